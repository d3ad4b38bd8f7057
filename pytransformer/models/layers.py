"""The boxes of the Transformer diagram, each one or two calls into the C++ kernels.

Weights are packed once, when a layer is built; the forward passes call ``_core`` directly
because the model checked every shape at load time.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import _core
from ..config import ModelConfig
from ..weights import Tensors

_ACTIVATIONS = {
    "relu": _core.Activation.relu,
    "gelu": _core.Activation.gelu,
    "gelu_tanh": _core.Activation.gelu_tanh,
    "silu": _core.Activation.silu,
}


def _optional(tensors: Tensors, name: str) -> Optional[np.ndarray]:
    value = tensors.get(name)
    return None if value is None else np.ascontiguousarray(value, dtype=np.float32)


class Linear:
    """A Linear layer with its weight packed for the GEMM and its activation fused."""

    def __init__(self, tensors: Tensors, name: str, activation=_core.Activation.none):
        weight = np.ascontiguousarray(tensors[name + ".weight"], dtype=np.float32)
        self.packed = _core.PackedLinear(weight, _optional(tensors, name + ".bias"))
        self.activation = activation

    def __call__(self, x: np.ndarray, residual: Optional[np.ndarray] = None) -> np.ndarray:
        return self.packed.forward(x, self.activation, residual)


class Norm:
    """LayerNorm or RMSNorm of ``x + residual`` (the residual add is fused in)."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str):
        self.rms = config.norm == "rms_norm"
        self.eps = float(config.norm_eps)
        self.weight = np.ascontiguousarray(tensors[name + ".weight"], dtype=np.float32)
        self.bias = None if self.rms else _optional(tensors, name + ".bias")

    def __call__(self, x: np.ndarray, residual: Optional[np.ndarray] = None) -> np.ndarray:
        if self.rms:
            return _core.rms_norm(x, self.weight, self.eps, residual)
        return _core.layer_norm(x, self.weight, self.bias, self.eps, residual)


class SelfAttention:
    """Multi-head self-attention: one fused QKV projection, the fused attention kernel reading
    the projection through strided views, and the output projection with the residual add."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str):
        self.heads = config.num_heads
        self.kv_heads = config.kv_heads
        self.head_dim = config.head_dim
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.qkv = Linear(tensors, name + ".qkv")
        self.out = Linear(tensors, name + ".out")

    def __call__(self, x: np.ndarray, key_padding_mask: Optional[np.ndarray],
                 residual: np.ndarray) -> np.ndarray:
        B, T, E = x.shape
        H, Hkv, D = self.heads, self.kv_heads, self.head_dim
        qkv = self.qkv(x)  # [B, T, (H + 2 Hkv) D]
        q = qkv[..., : H * D].reshape(B, T, H, D).transpose(0, 2, 1, 3)
        k = qkv[..., H * D: (H + Hkv) * D].reshape(B, T, Hkv, D).transpose(0, 2, 1, 3)
        v = qkv[..., (H + Hkv) * D:].reshape(B, T, Hkv, D).transpose(0, 2, 1, 3)
        context = np.empty((B, T, H, D), dtype=np.float32)
        _core.attention(q, k, v, key_padding_mask, False, None, self.scale,
                        context.transpose(0, 2, 1, 3))
        return self.out(context.reshape(B, T, E), residual)


class FeedForward:
    """The position-wise FFN, activation fused into the first GEMM, residual into the second."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str):
        if config.activation == "swiglu":
            raise ValueError("config.activation: 'swiglu' needs the gated feed-forward, which "
                             "encoders do not support yet")
        self.up = Linear(tensors, name + ".up", _ACTIVATIONS[config.activation])
        self.down = Linear(tensors, name + ".down")

    def __call__(self, x: np.ndarray, residual: np.ndarray) -> np.ndarray:
        return self.down(self.up(x), residual)
