"""The CPU backend: the model layer's operations on NumPy arrays, run by the C++ kernels of
``pytransformer._core`` (see pytransformer/backends/__init__.py for the interface)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core


class CpuBackend:
    device = "cpu"
    compute_type = "float32"

    # -- arrays -----------------------------------------------------------------------------
    @staticmethod
    def weight(array) -> np.ndarray:
        return np.ascontiguousarray(array, dtype=np.float32)

    @staticmethod
    def to_numpy(x) -> np.ndarray:
        return x

    @staticmethod
    def empty(shape) -> np.ndarray:
        """An uninitialised float32 array aligned to a cache line, as the kernels' own outputs
        are (see new_array in csrc/bindings/common.h): NumPy alone puts large arrays 16 bytes
        past one, and vector stores into them would split across lines."""
        return _core.empty(shape)

    @staticmethod
    def contiguous(x) -> np.ndarray:
        return np.ascontiguousarray(x)

    @staticmethod
    def broadcast(x, shape) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(x, shape), dtype=np.float32)

    @staticmethod
    def add(a, b) -> np.ndarray:
        return np.add(a, b, dtype=np.float32)

    @staticmethod
    def take_rows(x, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` of x [N, E]."""
        return np.ascontiguousarray(x[index])

    # -- layers -----------------------------------------------------------------------------
    @staticmethod
    def linear(weight, bias, weight_scale=None):
        """A prepacked Linear: ``forward(x, activation, residual)``. An int8 weight (with its
        per-channel weight_scale) runs on the int8 GEMM; any other on the float32 one, packed
        through its strides (a transposed view packs without a copy)."""
        if weight.dtype == np.int8:
            return _core.PackedLinearInt8(np.ascontiguousarray(weight), weight_scale, bias)
        return _core.PackedLinear(np.asarray(weight, dtype=np.float32), bias)

    layer_norm = staticmethod(_core.layer_norm)
    rms_norm = staticmethod(_core.rms_norm)
    rotary = staticmethod(_core.rotary)
    embedding = staticmethod(_core.embedding)
    gated_activation = staticmethod(_core.gated_activation)

    @staticmethod
    def attention(q, k, v, key_padding_mask, causal: bool, scale: float, out,
                  q_offsets: Optional[np.ndarray], k_offsets: Optional[np.ndarray],
                  sliding_window: int = 0, bias: Optional[np.ndarray] = None) -> None:
        if bias is not None:  # [1, H, Tq, Tk], seen by every sequence
            batch = q.shape[0] if q_offsets is None else len(q_offsets) - 1
            bias = np.broadcast_to(bias, (batch,) + bias.shape[1:])
        _core.attention(q, k, v, key_padding_mask, causal, bias, scale, out, q_offsets, k_offsets,
                        sliding_window)

    @staticmethod
    def kv_cache(layers: int, rows: int, kv_heads: int, max_length: int, head_dim: int):
        return _core.KVCache(layers, rows, kv_heads, max_length, head_dim)

    # -- whole layers -----------------------------------------------------------------------
    @staticmethod
    def transformer_layer(**parts):
        """A layer run in one call (csrc/model/transformer_layer.h): the keyword arguments of
        _core.TransformerLayer, with each norm given as (weight, bias, eps, rms)."""
        for name in ("self_norm", "q_norm", "k_norm", "cross_norm", "ffn_norm"):
            if parts.get(name) is not None:
                parts[name] = _core.Norm(*parts[name])
        return _core.TransformerLayer(**parts)


CPU = CpuBackend()
