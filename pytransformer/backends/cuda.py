"""The CUDA backend: the model layer's operations on DeviceArrays, run by the kernels of
``pytransformer._cuda`` (built with ``-Ccmake.define.PYTRANSFORMER_CUDA=ON``, see README).

Weights are uploaded once when a layer is built; inputs (token ids, masks, positions, offsets)
come from NumPy and go up per call; outputs stay on the GPU until ``to_numpy``. Every output is
a fresh DeviceArray from the module's caching allocator, so the steady state costs no
cudaMalloc. Linear layers run on cuBLAS (float32, or float16 / bfloat16 weights with float32
accumulation); the rest are our kernels (csrc/cuda/).
"""

from __future__ import annotations

import importlib.util
from typing import Optional

import numpy as np

from .device_array import DeviceArray

COMPUTE_TYPES = ("float32", "float16", "bfloat16")

_NUMPY_DTYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "uint8": np.uint8}
_DEVICE_DTYPES = {np.dtype(v): k for k, v in _NUMPY_DTYPES.items()}


def _module():
    """The ``_cuda`` extension, or RuntimeError saying why it cannot be used."""
    if importlib.util.find_spec("pytransformer._cuda") is None:
        raise RuntimeError("device='cuda': this pytransformer was built without CUDA; rebuild "
                           "with pip install . -Ccmake.define.PYTRANSFORMER_CUDA=ON")
    try:
        from .. import _cuda
    except ImportError as error:  # e.g. libcublas not found: pip install nvidia-cublas
        raise RuntimeError(f"device='cuda': the CUDA module failed to load: {error}") from None
    # runtime_error() also catches a GPU this build has no code for, or a driver too old.
    if _cuda.device_count() == 0 or _cuda.runtime_error():
        raise RuntimeError(f"device='cuda': no usable NVIDIA GPU ({_cuda.runtime_error() or 'none found'})")
    return _cuda


def available() -> bool:
    """True when this build has the CUDA module and it sees at least one GPU."""
    try:
        _module()
    except RuntimeError:
        return False
    return True


def unavailable_reason() -> str:
    """Why :func:`available` is False ("" when it is True)."""
    try:
        _module()
    except RuntimeError as error:
        return str(error)
    return ""


class CudaBackend:
    device = "cuda"

    def __init__(self, compute_type: str = "float32", device_index: int = 0):
        if compute_type not in COMPUTE_TYPES:
            raise ValueError(f"compute_type: {compute_type!r} is not supported on CUDA; "
                             f"supported: {', '.join(COMPUTE_TYPES)}")
        self.cuda = _module()
        # The CUDA current device is per process: models on two GPUs in one process are not
        # supported (the last one built sets the device for all).
        self.cuda.set_device(device_index)
        self.compute_type = compute_type
        # Inputs every layer of one call shares (masks, offsets, positions) go up once: the
        # last few uploaded NumPy arrays by identity, each with a host copy to check that it
        # was not changed in place since, and its device copy. Holding the array keeps its id
        # from being reused while the entry lives.
        self._shared_inputs: dict = {}

    # -- arrays -----------------------------------------------------------------------------
    def empty(self, shape, dtype: str = "float32") -> DeviceArray:
        array = DeviceArray(None, shape, dtype)
        array.buffer = self.cuda.Buffer(array.size * array.itemsize)
        return array

    def upload(self, array: np.ndarray) -> DeviceArray:
        """A NumPy array on the GPU (float32, float16, int64, uint8 or bool, as uint8)."""
        array = np.asarray(array)
        if array.dtype == np.bool_:
            array = array.view(np.uint8)
        dtype = _DEVICE_DTYPES.get(array.dtype)
        if dtype is None:
            raise TypeError(f"cannot upload a {array.dtype} array (expected float32, float16, "
                            f"int64, uint8 or bool)")
        out = self.empty(array.shape, dtype)
        self.cuda.copy_from_host(out, np.ascontiguousarray(array))
        return out

    def _upload_optional(self, array, dtype) -> Optional[DeviceArray]:
        return None if array is None else self.upload(np.asarray(array, dtype=dtype))

    def _upload_shared(self, array, dtype) -> Optional[DeviceArray]:
        """_upload_optional, once per NumPy array object (see __init__)."""
        if array is None:
            return None
        hit = self._shared_inputs.get(id(array))
        if hit is not None and hit[0] is array and np.array_equal(hit[1], array):
            return hit[2]
        if len(self._shared_inputs) >= 8:
            self._shared_inputs.clear()
        device = self._upload_optional(array, dtype)
        self._shared_inputs[id(array)] = (array, np.array(array), device)
        return device

    def weight(self, array) -> DeviceArray:
        if isinstance(array, DeviceArray):
            return array
        return self.upload(np.asarray(array, dtype=np.float32))

    def to_numpy(self, x: DeviceArray) -> np.ndarray:
        out = np.empty(x.shape, dtype=_NUMPY_DTYPES[x.dtype])
        self.cuda.copy_to_host(x, out)
        return out

    def contiguous(self, x: DeviceArray) -> DeviceArray:
        if x.is_contiguous:
            return x
        out = self.empty(x.shape, x.dtype)
        self.cuda.copy(out, x)
        return out

    def broadcast(self, x: DeviceArray, shape) -> DeviceArray:
        out = self.empty(shape, x.dtype)
        self.cuda.copy(out, x.broadcast_to(shape))
        return out

    def add(self, a: DeviceArray, b: DeviceArray) -> DeviceArray:
        b = b if b.shape == a.shape else self.broadcast(b, a.shape)
        out = self.empty(a.shape)
        self.cuda.add(out, a, b)
        return out

    def take_rows(self, x: DeviceArray, index: np.ndarray) -> DeviceArray:
        """Rows ``index`` of x [N, E]."""
        out = self.empty((len(index), x.shape[-1]), x.dtype)
        self.cuda.gather_rows(out, x, self.upload(np.asarray(index, dtype=np.int64)))
        return out

    # -- layers -----------------------------------------------------------------------------
    def linear(self, weight, bias, weight_scale=None) -> "CudaLinear":
        if getattr(weight, "dtype", None) == np.int8:
            raise ValueError("compute_type: int8 weights run on the CPU only; load with "
                             "device='cpu' or compute_type='float32' / 'float16' / 'bfloat16'")
        return CudaLinear(self, weight, bias)

    def layer_norm(self, x, weight, bias, eps: float, residual=None) -> DeviceArray:
        out = self.empty(x.shape)
        self.cuda.layer_norm(out, x, weight, bias, eps, residual)
        return out

    def rms_norm(self, x, weight, eps: float, residual=None) -> DeviceArray:
        out = self.empty(x.shape)
        self.cuda.rms_norm(out, x, weight, eps, residual)
        return out

    def rotary(self, x, positions: np.ndarray, base: float, rotary_dim: int = 0) -> DeviceArray:
        out = self.empty(x.shape)
        self.cuda.rotary(out, x, self._upload_shared(positions, np.int64), base, rotary_dim)
        return out

    def embedding(self, ids: np.ndarray, table: DeviceArray, scale: float) -> DeviceArray:
        ids = np.asarray(ids, dtype=np.int64)
        out = self.empty(ids.shape + (table.shape[1],))
        self.cuda.embedding(out.reshape(-1, table.shape[1]), self.upload(ids.reshape(-1)), table, scale)
        return out

    def gated_activation(self, gate, up, activation) -> DeviceArray:
        out = self.empty(gate.shape)
        self.cuda.gated_activation(out, gate, up, int(activation))
        return out

    def attention(self, q, k, v, key_padding_mask, causal: bool, scale: float, out,
                  q_offsets, k_offsets, sliding_window: int = 0, bias=None) -> None:
        if bias is not None:  # [1, H, Tq, Tk], one upload per forward, seen by every sequence
            bias = self._upload_shared(bias, np.float32)
            batch = q.shape[0] if q_offsets is None else len(q_offsets) - 1
            bias = DeviceArray(bias.buffer, (batch,) + bias.shape[1:], bias.dtype, bias.offset,
                               (0,) + bias.strides[1:])
        self.cuda.attention(out, q, k, v, self._upload_shared(key_padding_mask, np.uint8),
                            bool(causal), bias, float(scale),
                            self._upload_shared(q_offsets, np.int64),
                            self._upload_shared(k_offsets, np.int64), int(sliding_window))

    def kv_cache(self, layers: int, rows: int, kv_heads: int, max_length: int, head_dim: int):
        return CudaKVCache(self, layers, rows, kv_heads, max_length, head_dim)


class CudaLinear:
    """out = activation(x W^T + bias) + residual on cuBLAS, the weight uploaded once (converted
    to the backend's float16 / bfloat16 on the GPU when asked; tied weights such as GPT-2's
    lm_head reuse the uploaded embedding table in float32)."""

    def __init__(self, backend: CudaBackend, weight, bias):
        self.backend = backend
        weight = backend.weight(weight)
        if backend.compute_type != "float32":
            converted = backend.empty(weight.shape, backend.compute_type)
            backend.cuda.convert(converted, weight)
            weight = converted
        self.weight = weight  # kept alive: the C++ Linear holds only pointers
        self.bias = backend._upload_optional(bias, np.float32)
        self.packed = backend.cuda.Linear(self.weight, self.bias)

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: DeviceArray, activation, residual: Optional[DeviceArray] = None) -> DeviceArray:
        out = self.backend.empty(x.shape[:-1] + (self.out_features,))
        self.packed.forward(out, x, int(activation), residual)
        return out


class CudaKVCache:
    """The KV cache of every layer on the GPU, [rows, kv_heads, max_length, head_dim] each, with
    the CPU cache's interface (pytransformer._core.KVCache)."""

    def __init__(self, backend: CudaBackend, layers, rows, kv_heads, max_length, head_dim):
        self.backend = backend
        self.layers, self.rows, self.max_length = layers, rows, max_length
        shape = (rows, kv_heads, max_length, head_dim)
        self._keys = [backend.empty(shape) for _ in range(layers)]
        self._values = [backend.empty(shape) for _ in range(layers)]
        self._written = [0] * layers  # positions [0, written) of each layer hold written keys
        self.nbytes = 2 * layers * rows * kv_heads * max_length * head_dim * 4

    def keys(self, layer: int) -> DeviceArray:
        """[rows, kv_heads, positions written so far, head_dim] (the storage is not cleared)."""
        return self._keys[layer][:, :, :self._written[layer]]

    def values(self, layer: int) -> DeviceArray:
        return self._values[layer][:, :, :self._written[layer]]

    def write(self, layer: int, k: DeviceArray, v: DeviceArray, start: int) -> None:
        """Keys and values [rows, kv_heads, T, head_dim] at positions [start, start + T)."""
        end = start + k.shape[2]
        if not 0 <= start <= end <= self.max_length:
            raise ValueError(f"start: positions [{start}, {end}) exceed the cache's {self.max_length}")
        if start > self._written[layer]:  # attention reads every position before these
            raise ValueError(f"start: writing from position {start} would leave positions "
                             f"[{self._written[layer]}, {start}) of layer {layer} unwritten")
        self.backend.cuda.copy(self._keys[layer][:, :, start:end], k)
        self.backend.cuda.copy(self._values[layer][:, :, start:end], v)
        self._written[layer] = max(self._written[layer], end)

    def reorder(self, sources, length: int) -> None:
        """Row r takes old row sources[r]'s first ``length`` positions (beam search)."""
        index = np.asarray(sources, dtype=np.int64)
        if index.shape != (self.rows,) or index.min() < 0 or index.max() >= self.rows:
            raise ValueError(f"sources: expected {self.rows} row indices in [0, {self.rows})")
        device_index = self.backend.upload(index)
        for storage in self._keys + self._values:
            gathered = self.backend.empty(storage.shape)
            self.backend.cuda.gather_rows(gathered.reshape(self.rows, -1),
                                          storage.reshape(self.rows, -1), device_index)
            self.backend.cuda.copy(storage[:, :, :length], gathered[:, :, :length])
