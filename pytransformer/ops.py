"""The functional API: Transformer building blocks on NumPy arrays, computed by the C++ kernels.

Every function takes and returns float32 NumPy arrays (see ``_checks`` for the conversion
rules), checks its arguments once, and releases the GIL while the kernel runs. Shapes use
B = batch, T = sequence, E = model width, H = heads, D = head width.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import _checks, _core
from . import quantize as _quantize

_ACTIVATIONS = {
    None: _core.Activation.none,
    "none": _core.Activation.none,
    "relu": _core.Activation.relu,
    "gelu": _core.Activation.gelu,
    "gelu_tanh": _core.Activation.gelu_tanh,
    "silu": _core.Activation.silu,
}


def _activation(name, argument: str = "activation"):
    try:
        return _ACTIVATIONS[name]
    except (KeyError, TypeError):
        choices = ", ".join(repr(k) for k in _ACTIVATIONS)
        raise ValueError(f"{argument}: expected one of {choices}, got {name!r}") from None


class Linear:
    """``y = activation(x @ weight.T + bias)`` with the weight packed once, at construction.

    weight: [out_features, in_features] (PyTorch's layout); bias: [out_features] or None.
    Calling it on x [..., in_features] gives [..., out_features]; ``residual`` (shaped like the
    output) is added after the activation, in the same pass.
    """

    def __init__(self, weight, bias=None, activation: Optional[str] = None):
        weight = _checks.floats(weight, "weight")
        _checks.rank(weight, "weight", 2, "[out_features, in_features]")
        self._activation = _activation(activation)
        self._packed = _core.PackedLinear(weight, _checks.optional_floats(bias, "bias"))

    @property
    def in_features(self) -> int:
        return self._packed.in_features

    @property
    def out_features(self) -> int:
        return self._packed.out_features

    def __call__(self, x, residual=None) -> np.ndarray:
        return self._packed.forward(
            _checks.floats(x, "x"), self._activation, _checks.optional_floats(residual, "residual")
        )

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self._packed.has_bias}, "
                f"activation={self._activation.name}{self._repr_extra()})")

    def _repr_extra(self) -> str:
        return ""


def quantize_weight(weight) -> tuple:
    """Quantize a Linear weight [out_features, in_features] to int8 as the int8 compute type
    does: symmetric, one scale per output channel. Returns ``(q int8 [out, in], scales float32
    [out])`` with ``weight ~= q * scales[:, None]`` (see :mod:`pytransformer.quantize`)."""
    weight = _checks.floats(weight, "weight")
    _checks.rank(weight, "weight", 2, "[out_features, in_features]")
    return _quantize.quantize_rows(weight)


class LinearInt8(Linear):
    """An int8 :class:`Linear`: ``y = activation(x @ weight.T + bias)`` with the weight quantized
    per output channel and x quantized per row (token) at run time; int32 accumulation;
    dequantization, bias, activation and ``residual`` fused into the GEMM epilogue.

    ``weight_or_quantized`` is a float weight [out_features, in_features] (quantized here) or
    the pair ``(q, scales)`` from :func:`quantize_weight` (int8 [out, in], float32 [out]).
    ``kernel`` picks an int8 GEMM variant (``_core.supported_int8_kernels()``); by default the
    active ISA's.
    """

    def __init__(self, weight_or_quantized, bias=None, activation: Optional[str] = None, *,
                 kernel: Optional[str] = None):
        if isinstance(weight_or_quantized, tuple):
            if len(weight_or_quantized) != 2:
                raise ValueError("weight_or_quantized: expected a float weight or a (q, scales) pair")
            q, scales = weight_or_quantized
            q = np.asarray(q)
            if q.dtype != np.int8:
                raise TypeError(f"weight_or_quantized: q must be int8, got dtype {q.dtype}")
            q = np.ascontiguousarray(q)
            scales = _checks.floats(scales, "scales")
        else:
            q, scales = quantize_weight(weight_or_quantized)
        _checks.rank(q, "weight", 2, "[out_features, in_features]")
        self._activation = _activation(activation)
        self._packed = _core.PackedLinearInt8(q, scales, _checks.optional_floats(bias, "bias"),
                                              kernel)

    @property
    def kernel(self) -> str:
        """The int8 GEMM variant this layer was packed for."""
        return self._packed.kernel

    def accumulators(self, x) -> np.ndarray:
        """The exact int32 sums ``q(x) @ q(weight).T`` before dequantization (for tests)."""
        return self._packed.accumulators(_checks.floats(x, "x"))

    def _repr_extra(self) -> str:
        return f", kernel={self.kernel!r}"


def linear(x, weight, bias=None, activation: Optional[str] = None) -> np.ndarray:
    """``activation(x @ weight.T + bias)``; x [..., in], weight [out, in]. Packs the weight on
    every call: a model should build a :class:`Linear` once instead."""
    return Linear(weight, bias, activation)(x)


def layer_norm(x, weight, bias=None, eps: float = 1e-5, residual=None) -> np.ndarray:
    """LayerNorm over the last axis of ``x + residual`` (residual optional), in one pass."""
    return _core.layer_norm(
        _checks.floats(x, "x"), _checks.floats(weight, "weight"),
        _checks.optional_floats(bias, "bias"), _checks.real(eps, "eps"),
        _checks.optional_floats(residual, "residual"),
    )


def rms_norm(x, weight, eps: float = 1e-6, residual=None) -> np.ndarray:
    """RMSNorm (LLaMA) over the last axis of ``x + residual``: ``h / sqrt(mean(h^2) + eps) * weight``."""
    return _core.rms_norm(
        _checks.floats(x, "x"), _checks.floats(weight, "weight"), _checks.real(eps, "eps"),
        _checks.optional_floats(residual, "residual"),
    )


def softmax(x, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``. A row that is all -inf gives NaN, as in NumPy and PyTorch."""
    x = _checks.floats(x, "x")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis: expected an int, got {type(axis).__name__}")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis: {axis} is out of range for an array of shape {x.shape}")
    axis = int(axis) % x.ndim
    if axis == x.ndim - 1:
        return _core.softmax(x)
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    return np.moveaxis(_core.softmax(moved), -1, axis)


def relu(x) -> np.ndarray:
    return _core.activation(_checks.floats(x, "x"), _core.Activation.relu)


def gelu(x, approximate: str = "none") -> np.ndarray:
    """GELU, exact (``approximate="none"``, erf) or the tanh approximation (``"tanh"``)."""
    if approximate == "none":
        kind = _core.Activation.gelu
    elif approximate == "tanh":
        kind = _core.Activation.gelu_tanh
    else:
        raise ValueError(f"approximate: expected 'none' or 'tanh', got {approximate!r}")
    return _core.activation(_checks.floats(x, "x"), kind)


def silu(x) -> np.ndarray:
    """SiLU (swish): ``x * sigmoid(x)``."""
    return _core.activation(_checks.floats(x, "x"), _core.Activation.silu)


def _scale(scale, head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim) if scale is None else _checks.real(scale, "scale")


def _longest(offsets, length: int) -> int:
    """The longest sequence of packed offsets (the t axis' length when not packed)."""
    if offsets is None:
        return length
    offsets = np.asarray(offsets)
    return int(np.diff(offsets).max()) if offsets.size > 1 else 0


def scaled_dot_product_attention(q, k, v, *, key_padding_mask=None, causal: bool = False,
                                 attn_bias=None, scale: Optional[float] = None,
                                 q_offsets=None, k_offsets=None,
                                 sliding_window: Optional[int] = None) -> np.ndarray:
    """``softmax(q @ k^T * scale + attn_bias, masked) @ v``, fused (no [Tq, Tk] matrix stored).

    q: [B, H, Tq, D]; k, v: [B, Hkv, Tk, D] with H a multiple of Hkv (grouped-query heads share
    a key/value head). key_padding_mask: [B, Tk] bool, True = padding to ignore. attn_bias:
    float, broadcastable to [B, H, Tq, Tk]. causal: query i sees keys j <= i + Tk - Tq (the last
    query aligns with the last key, as in a decoder step over a KV cache). scale defaults to
    1/sqrt(D). sliding_window (with causal only): query i also sees only the sliding_window
    keys ending at its last one, j > i + Tk - Tq - sliding_window (Mistral). A query row whose
    keys are all masked returns zeros, not NaN.

    Padding-free batches: with ``q_offsets`` (integers [B + 1], from 0, non-decreasing), q is
    [1, H, Nq, D] holding the B sequences' queries back to back, sequence b at positions
    [q_offsets[b], q_offsets[b + 1]); ``k_offsets`` likewise packs k and v [1, Hkv, Nk, D].
    Work is then proportional to the real tokens; causal alignment is per sequence. attn_bias
    then broadcasts to [B, H, longest Tq, longest Tk] and each sequence reads the first
    positions of its slice (as a relative position bias, the same for every sequence, needs).
    """
    q = _checks.floats(q, "q")
    k = _checks.floats(k, "k")
    v = _checks.floats(v, "v")
    _checks.rank(q, "q", 4, "[B, H, Tq, D]")
    _checks.rank(k, "k", 4, "[B, Hkv, Tk, D]")
    _checks.rank(v, "v", 4, "[B, Hkv, Tk, D]")
    if key_padding_mask is not None:
        key_padding_mask = _checks.mask(key_padding_mask, "key_padding_mask")
    if q_offsets is not None:
        q_offsets = _checks.integers(q_offsets, "q_offsets")
    if k_offsets is not None:
        k_offsets = _checks.integers(k_offsets, "k_offsets")
    if attn_bias is not None:
        attn_bias = _checks.floats(attn_bias, "attn_bias")
        target = (q.shape[0], q.shape[1], _longest(q_offsets, q.shape[2]),
                  _longest(k_offsets, k.shape[2]))
        if q_offsets is not None or k_offsets is not None:
            offsets = q_offsets if q_offsets is not None else k_offsets
            target = (max(len(offsets) - 1, 0),) + target[1:]
        try:
            attn_bias = np.broadcast_to(attn_bias, target)  # a stride-0 view, not a copy
        except ValueError:
            raise ValueError(f"attn_bias: shape {attn_bias.shape} does not broadcast to "
                             f"[B, H, Tq, Tk] = {target}") from None
    window = 0 if sliding_window is None else _checks.positive_int(sliding_window, "sliding_window")
    return _core.attention(q, k, v, key_padding_mask, bool(causal), attn_bias,
                           _scale(scale, q.shape[-1]), None, q_offsets, k_offsets, window)


def multi_head_attention(query, key, value, *, q_weight, k_weight, v_weight, o_weight,
                         q_bias=None, k_bias=None, v_bias=None, o_bias=None, num_heads: int,
                         num_kv_heads: Optional[int] = None, key_padding_mask=None,
                         causal: bool = False) -> np.ndarray:
    """Multi-head attention with the semantics of ``torch.nn.MultiheadAttention(batch_first=True)``
    (its output, without the weights), for self- and cross-attention.

    query: [B, Tq, E]; key, value: [B, Tk, Ekv]. q_weight: [E, E]; k_weight, v_weight:
    [Hkv * D, Ekv] with D = E / num_heads; o_weight: [E, E]. key_padding_mask: [B, Tk] bool,
    True = ignore. causal as in :func:`scaled_dot_product_attention`.
    """
    query = _checks.floats(query, "query")
    key = _checks.floats(key, "key")
    value = _checks.floats(value, "value")
    _checks.rank(query, "query", 3, "[B, Tq, E]")
    _checks.rank(key, "key", 3, "[B, Tk, E]")
    _checks.rank(value, "value", 3, "[B, Tk, E]")
    num_heads = _checks.positive_int(num_heads, "num_heads")
    num_kv_heads = num_heads if num_kv_heads is None else _checks.positive_int(num_kv_heads, "num_kv_heads")
    B, Tq, E = query.shape
    if E % num_heads:
        raise ValueError(f"num_heads: {num_heads} does not divide the embedding width {E}")
    if num_heads % num_kv_heads:
        raise ValueError(f"num_kv_heads: {num_kv_heads} does not divide num_heads={num_heads}")
    if key.shape[:2] != value.shape[:2] or key.shape[0] != B:
        raise ValueError(f"key/value: expected [B={B}, Tk, E] with matching Tk, got key "
                         f"{key.shape} and value {value.shape}")
    D = E // num_heads
    Tk = key.shape[1]
    q = Linear(q_weight, q_bias)(query)
    k = Linear(k_weight, k_bias)(key)
    v = Linear(v_weight, v_bias)(value)
    for name, projected in (("k_weight", k), ("v_weight", v)):
        if projected.shape[-1] != num_kv_heads * D:
            raise ValueError(f"{name}: expected {num_kv_heads * D} output features "
                             f"(num_kv_heads * head_dim), got {projected.shape[-1]}")
    if q.shape[-1] != E:
        raise ValueError(f"q_weight: expected {E} output features, got {q.shape[-1]}")
    # [B, T, H, D] viewed as [B, H, T, D]: the kernel takes strides, so nothing is transposed.
    q4 = q.reshape(B, Tq, num_heads, D).transpose(0, 2, 1, 3)
    k4 = k.reshape(B, Tk, num_kv_heads, D).transpose(0, 2, 1, 3)
    v4 = v.reshape(B, Tk, num_kv_heads, D).transpose(0, 2, 1, 3)
    context = np.empty((B, Tq, num_heads, D), dtype=np.float32)
    if key_padding_mask is not None:
        key_padding_mask = _checks.mask(key_padding_mask, "key_padding_mask")
    _core.attention(q4, k4, v4, key_padding_mask, bool(causal), None, 1.0 / math.sqrt(D),
                    context.transpose(0, 2, 1, 3))
    return Linear(o_weight, o_bias)(context.reshape(B, Tq, E))


def feed_forward(x, w1, b1, w2, b2, activation: str = "relu") -> np.ndarray:
    """The position-wise FFN: ``activation(x @ w1.T + b1) @ w2.T + b2`` (biases may be None)."""
    hidden = Linear(w1, b1, activation)(x)
    return Linear(w2, b2)(hidden)


def gated_feed_forward(x, w_gate, w_up, w_down, activation: str = "silu",
                       b_gate=None, b_up=None, b_down=None) -> np.ndarray:
    """The gated FFN of LLaMA (SwiGLU with ``activation="silu"``, GeGLU with ``"gelu"``):
    ``(activation(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T``."""
    kind = _activation(activation)
    gate = Linear(w_gate, b_gate)(x)
    up = Linear(w_up, b_up)(x)
    return Linear(w_down, b_down)(_core.gated_activation(gate, up, kind))


def embedding(ids, table) -> np.ndarray:
    """``table[ids]``: ids any integer array, table [vocab, E]. An id outside [0, vocab) raises
    ValueError (nothing out of bounds is ever read)."""
    table = _checks.floats(table, "table")
    _checks.rank(table, "table", 2, "[vocab, E]")
    return _core.embedding(_checks.integers(ids, "ids"), table, 1.0)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The 2017 paper's position table [length, dim]: sin(pos / 10000^(2i/dim)) on even channels
    2i, cos on odd channels 2i + 1."""
    length = _checks.positive_int(length, "length")
    dim = _checks.positive_int(dim, "dim")
    return _core.sinusoidal_positions(length, dim)


def rotary_embedding(x, positions, base: float = 10000.0,
                     rotary_dim: Optional[int] = None) -> np.ndarray:
    """Rotary positions (rotate-half convention of Hugging Face LLaMA) applied to x [B, H, T, D]
    at positions [T] or [B, T] (integers). rotary_dim: rotate only the first rotary_dim (even)
    features of each head and pass the others through (partial rotary: GPT-NeoX, Phi); None:
    all D (even)."""
    x = _checks.floats(x, "x")
    _checks.rank(x, "x", 4, "[B, H, T, D]")
    rotated = 0 if rotary_dim is None else _checks.positive_int(rotary_dim, "rotary_dim")
    if rotated > x.shape[-1]:  # before the binding, whose int64 a huge count would not fit
        raise ValueError(f"rotary_dim: expected at most the head dimension {x.shape[-1]}, got "
                         f"{rotated}")
    return _core.rotary(x, _checks.integers(positions, "positions"), _checks.real(base, "base"),
                        rotated)


__all__ = [
    "Linear",
    "LinearInt8",
    "embedding",
    "feed_forward",
    "gated_feed_forward",
    "gelu",
    "layer_norm",
    "linear",
    "multi_head_attention",
    "quantize_weight",
    "relu",
    "rms_norm",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "silu",
    "sinusoidal_positions",
    "softmax",
]
