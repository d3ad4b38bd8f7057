"""The CUDA backend's Python half (DeviceArray views, uploads, the device KV cache, model
wiring, generation) on any machine: pytransformer._cuda is replaced by a NumPy stand-in
(tests/fake_cuda.py), and every architecture loaded with device="cuda" must give what the CPU
path gives. The CUDA kernels themselves are tested on a GPU by tests/test_cuda.py."""

import sys

import numpy as np

import pytest

import pytransformer

pytest.importorskip("torch")
pytest.importorskip("transformers")

from device_parity import CHECKS, checkpoints  # noqa: E402
import fake_cuda  # noqa: E402


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return checkpoints(tmp_path_factory.mktemp("cuda_wiring"))


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytransformer._cuda", fake_cuda.module())
    monkeypatch.setattr(pytransformer, "_cuda", sys.modules["pytransformer._cuda"], raising=False)
    assert pytransformer.cuda_available()


@pytest.mark.parametrize("name", list(CHECKS))
def test_models_on_the_cuda_backend_match_the_cpu(paths, fake_gpu, name):
    CHECKS[name](paths[name], "cuda", 1e-4)


@pytest.mark.parametrize("name", ["gpt2", "bart"])
def test_float16_weights_stay_close_to_float32(paths, fake_gpu, name):
    # fp16 weights: 11-bit significands, so ~5e-4 relative error per product, summed over
    # fan-ins of 32-96 and two layers; 2e-2 of the logits' scale leaves a wide margin.
    CHECKS[name](paths[name], "cuda", 2e-2, compute_type="float16", generation=False)


def test_shared_inputs_go_up_once_and_again_when_changed(fake_gpu):
    from pytransformer import backends

    gpu = backends.get("cuda")
    positions = np.arange(6, dtype=np.int64).reshape(2, 3)
    first = gpu._upload_shared(positions, np.int64)
    assert gpu._upload_shared(positions, np.int64) is first  # every layer of a call: one upload
    positions += 10  # changed in place by a caller: uploaded again
    again = gpu._upload_shared(positions, np.int64)
    assert again is not first
    np.testing.assert_array_equal(gpu.to_numpy(again), positions)
