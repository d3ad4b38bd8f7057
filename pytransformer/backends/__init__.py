"""Where a model runs: the operations the model layer (pytransformer/models) needs, on NumPy
arrays with the CPU kernels or on DeviceArrays with the CUDA ones. Both backends expose the
same methods, so the layer code is written once:

  arrays   weight(array), empty(shape), contiguous(x), broadcast(x, shape), add(a, b),
           take_rows(x, index), to_numpy(x)
  layers   linear(weight, bias, weight_scale) -> object with forward(x, activation, residual),
           layer_norm, rms_norm, rotary, embedding, gated_activation, attention,
           kv_cache(layers, rows, kv_heads, max_length, head_dim)
  optional transformer_layer(**parts): a whole layer in one call (the CPU's); the model layer
           runs the layers op by op on a backend without it

Views (slicing, reshape, transpose) are the arrays' own: NumPy's, or DeviceArray's, which
mirrors them (pytransformer/backends/device_array.py).
"""

from __future__ import annotations

from .cpu import CPU, CpuBackend
from .cuda import COMPUTE_TYPES as CUDA_COMPUTE_TYPES
from .cuda import CudaBackend, available as cuda_available, unavailable_reason as cuda_unavailable_reason
from .device_array import DeviceArray

DEVICES = ("cpu", "cuda")


def get(device: str = "cpu", compute_type: str = "float32"):
    """The backend for ``device`` ("cpu" or "cuda", optionally "cuda:N")."""
    if not isinstance(device, str):
        raise TypeError(f"device: expected a str, got {type(device).__name__}")
    name, _, index = device.partition(":")
    if name == "cpu" and not index:
        return CPU
    if name == "cuda":
        if index and not index.isdigit():
            raise ValueError(f"device: expected 'cuda' or 'cuda:N', got {device!r}")
        return CudaBackend(compute_type, int(index or 0))
    raise ValueError(f"device: {device!r} is not supported; supported: {', '.join(DEVICES)} "
                     f"(or 'cuda:N')")


__all__ = ["CPU", "CUDA_COMPUTE_TYPES", "CpuBackend", "CudaBackend", "DeviceArray", "cuda_available",
           "cuda_unavailable_reason", "get"]
