"""Choosing where a model runs: pytransformer.load(device=...), compute types per device, and
clear errors where CUDA cannot be used (this runs on every machine; the CUDA kernels
themselves are tested in tests/test_cuda.py, on a GPU)."""

import pytest

import pytransformer
from pytransformer import backends


def test_cpu_is_the_default_backend():
    assert backends.get().device == "cpu"
    assert backends.get("cpu") is backends.CPU


@pytest.mark.parametrize("device,error,match", [
    ("tpu", ValueError, "not supported; supported: cpu, cuda"),
    ("cuda:x", ValueError, "cuda:N"),
    ("cpu:0", ValueError, "not supported"),
    (0, TypeError, "expected a str"),
])
def test_unknown_devices_are_refused(device, error, match):
    with pytest.raises(error, match=match):
        backends.get(device)


def test_half_compute_types_are_cuda_only(tmp_path):
    with pytest.raises(ValueError, match="'float16' is not supported on 'cpu'; supported: float32, int8"):
        pytransformer.load(tmp_path, compute_type="float16")


def test_int8_is_refused_on_cuda(tmp_path):
    with pytest.raises(ValueError, match="'int8' is not supported on 'cuda'"):
        pytransformer.load(tmp_path, compute_type="int8", device="cuda")


@pytest.mark.skipif(pytransformer.cuda_available(), reason="a usable GPU is present")
def test_cuda_without_a_usable_gpu_says_why(tmp_path):
    assert pytransformer.cuda_available() is False
    reason = backends.cuda_unavailable_reason()
    assert "built without CUDA" in reason or "no usable NVIDIA GPU" in reason or "failed to load" in reason
    with pytest.raises(RuntimeError, match="device='cuda'"):
        pytransformer.load(tmp_path, device="cuda")
