"""The real CUDA kernels (csrc/cuda) without a GPU: tests/cuda_emulator rewrites every kernel
launch into a host emulation (each CUDA thread a fiber, real barriers and warp shuffles, shared
and device memory poisoned with NaN, a naive cuBLAS) and g++ builds it twice:

- cuda_emulator/kernels_test.cpp, every kernel against naive references, must pass;
- csrc/cuda/module.cpp, the real bindings, as pytransformer._cuda: every architecture of
  tests/device_parity.py loaded with device="cuda" must give what the CPU path gives, as on a GPU.

This proves the kernels' indexing, masking, reductions and synchronisation, and the bindings'
wiring; not real scheduling, the GPU memory model, cuBLAS or speed. tests/test_cuda.py on a GPU
is the real check."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

import pytransformer

pytest.importorskip("torch")
pytest.importorskip("transformers")

from device_parity import CHECKS, checkpoints  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent / "cuda_emulator"))
import build_emulator as emulator  # noqa: E402
import rewrite_launches  # noqa: E402

if not emulator.compiler():
    pytest.skip("the CUDA emulator needs g++ (or $CXX)", allow_module_level=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(kernel test executable, extension module path or None without pybind11)."""
    has_pybind11 = importlib.util.find_spec("pybind11") is not None
    return emulator.build(tmp_path_factory.mktemp("cuda_emulator"), module=has_pybind11)


def test_rewriter_turns_launches_into_calls_and_refuses_the_unknown():
    source = "k<float><<<grid_for(n, 256), 256, bytes(D)>>>(out, x);  // atomic in a comment"
    assert rewrite_launches.rewrite(source).startswith(
        "emulate_launch(k<float>, dim3(grid_for(n, 256)), dim3(256), bytes(D), out, x);")
    for unknown in ("atomicAdd(p, 1.0f);", "__syncwarp();", "__constant__ float c[4];"):
        with pytest.raises(ValueError, match="not emulated"):
            rewrite_launches.rewrite(unknown)


def test_kernels_match_naive_references(built):
    result = subprocess.run([str(built[0])], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "OK: 0 failures" in result.stdout, (
        result.stdout + result.stderr)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return checkpoints(tmp_path_factory.mktemp("cuda_emulated_models"))


@pytest.fixture
def emulated_gpu(built, monkeypatch):
    if built[1] is None:
        pytest.skip("building the emulated pytransformer._cuda needs pybind11")
    # Its own name: under "pytransformer._cuda" Python would hand back a real one already loaded.
    spec = importlib.util.spec_from_file_location("cuda_emulator._cuda", built[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "pytransformer._cuda", module)
    monkeypatch.setattr(pytransformer, "_cuda", module, raising=False)
    assert pytransformer.cuda_available()


@pytest.mark.parametrize("name", list(CHECKS))
def test_models_on_emulated_kernels_match_the_cpu(paths, emulated_gpu, name):
    CHECKS[name](paths[name], "cuda", 1e-4)


@pytest.mark.parametrize("name", ["gpt2", "bart"])
@pytest.mark.parametrize("compute_type", ["float16", "bfloat16"])
def test_half_weights_on_emulated_kernels_stay_close(paths, emulated_gpu, name, compute_type):
    # Tolerances as tests/test_backends_cuda_wiring.py: fp16 ~5e-4 relative per product over
    # fan-ins of 32-96 and two layers; bf16 has 3 fewer significand bits (8x that).
    tolerance = 2e-2 if compute_type == "float16" else 8e-2
    CHECKS[name](paths[name], "cuda", tolerance, compute_type=compute_type, generation=False)
