"""Every op of :mod:`pytransformer.ops` in plain NumPy, written for clarity, not speed.

It is the oracle the tests check the C++ kernels against (alongside PyTorch) and the NumPy
baseline of the benchmarks. It shares no code with the kernels: each function is the textbook
formula, computed in float32 like the kernels (float64 where noted, for exact tables).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def erf(x) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), since NumPy has none."""
    x = _f32(x)
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def relu(x) -> np.ndarray:
    return np.maximum(_f32(x), np.float32(0))


def gelu(x, approximate: str = "none") -> np.ndarray:
    x = _f32(x)
    if approximate == "tanh":
        inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x ** 3)
        return np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))
    return np.float32(0.5) * x * (np.float32(1) + erf(x / np.float32(math.sqrt(2.0))))


def silu(x) -> np.ndarray:
    x = _f32(x)
    return x / (np.float32(1) + np.exp(-x))


_ACTIVATIONS = {
    None: lambda x: x,
    "none": lambda x: x,
    "relu": relu,
    "gelu": gelu,
    "gelu_tanh": lambda x: gelu(x, "tanh"),
    "silu": silu,
}


def linear(x, weight, bias=None, activation: Optional[str] = None) -> np.ndarray:
    y = _f32(x) @ _f32(weight).T
    if bias is not None:
        y = y + _f32(bias)
    return _ACTIVATIONS[activation](y)


def layer_norm(x, weight, bias=None, eps: float = 1e-5, residual=None) -> np.ndarray:
    h = _f32(x) if residual is None else _f32(x) + _f32(residual)
    mean = h.mean(axis=-1, keepdims=True)
    var = ((h - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (h - mean) / np.sqrt(var + np.float32(eps)) * _f32(weight)
    return y if bias is None else y + _f32(bias)


def rms_norm(x, weight, eps: float = 1e-6, residual=None) -> np.ndarray:
    h = _f32(x) if residual is None else _f32(x) + _f32(residual)
    return h / np.sqrt((h * h).mean(axis=-1, keepdims=True) + np.float32(eps)) * _f32(weight)


def softmax(x, axis: int = -1) -> np.ndarray:
    x = _f32(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def scaled_dot_product_attention(q, k, v, *, key_padding_mask=None, causal: bool = False,
                                 attn_bias=None, scale: Optional[float] = None,
                                 sliding_window: Optional[int] = None) -> np.ndarray:
    """q [B, H, Tq, D], k/v [B, Hkv, Tk, D]; rows with no visible key give zeros."""
    q, k, v = _f32(q), _f32(k), _f32(v)
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    if Tk == 0:  # no key at all: every row sees nothing
        return np.zeros((B, H, Tq, v.shape[-1]), dtype=np.float32)
    group = H // Hkv
    k = np.repeat(k, group, axis=1)  # grouped-query: each kv head serves `group` query heads
    v = np.repeat(v, group, axis=1)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(scale)
    if attn_bias is not None:
        scores = scores + _f32(attn_bias)
    visible = np.ones((B, 1, Tq, Tk), dtype=bool)
    if key_padding_mask is not None:
        visible &= ~np.asarray(key_padding_mask, dtype=bool)[:, None, None, :]
    if causal:
        visible &= np.tril(np.ones((Tq, Tk), dtype=bool), k=Tk - Tq)[None, None]
    if sliding_window:  # query i sees keys j > i + Tk - Tq - sliding_window
        visible &= np.triu(np.ones((Tq, Tk), dtype=bool), k=Tk - Tq - sliding_window + 1)[None, None]
    scores = np.where(visible, scores, -np.inf)
    row_max = scores.max(axis=-1, keepdims=True)
    # No visible key (max -inf): zeros. A NaN score is not that: its row stays NaN, as in softmax.
    empty = row_max == -np.inf
    e = np.exp(scores - np.where(empty, 0, row_max))
    total = e.sum(axis=-1, keepdims=True)
    weights = np.where(empty, 0, e / np.where(empty, 1, total))
    return (weights @ v).astype(np.float32)


def multi_head_attention(query, key, value, *, q_weight, k_weight, v_weight, o_weight,
                         q_bias=None, k_bias=None, v_bias=None, o_bias=None, num_heads: int,
                         num_kv_heads: Optional[int] = None, key_padding_mask=None,
                         causal: bool = False) -> np.ndarray:
    num_kv_heads = num_kv_heads or num_heads
    B, Tq, E = np.shape(query)
    Tk = np.shape(key)[1]
    D = E // num_heads
    q = linear(query, q_weight, q_bias).reshape(B, Tq, num_heads, D).transpose(0, 2, 1, 3)
    k = linear(key, k_weight, k_bias).reshape(B, Tk, num_kv_heads, D).transpose(0, 2, 1, 3)
    v = linear(value, v_weight, v_bias).reshape(B, Tk, num_kv_heads, D).transpose(0, 2, 1, 3)
    context = scaled_dot_product_attention(q, k, v, key_padding_mask=key_padding_mask, causal=causal)
    return linear(context.transpose(0, 2, 1, 3).reshape(B, Tq, E), o_weight, o_bias)


def feed_forward(x, w1, b1, w2, b2, activation: str = "relu") -> np.ndarray:
    return linear(linear(x, w1, b1, activation), w2, b2)


def gated_feed_forward(x, w_gate, w_up, w_down, activation: str = "silu",
                       b_gate=None, b_up=None, b_down=None) -> np.ndarray:
    gate = _ACTIVATIONS[activation](linear(x, w_gate, b_gate))
    return linear(gate * linear(x, w_up, b_up), w_down, b_down)


def embedding(ids, table) -> np.ndarray:
    return _f32(table)[np.asarray(ids)]


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    position = np.arange(length, dtype=np.float64)[:, None]
    pair = np.arange(dim, dtype=np.float64)[None, :] // 2
    angle = position / np.power(10000.0, 2.0 * pair / dim)
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angle), np.cos(angle))
    return table.astype(np.float32)


def rotary_embedding(x, positions, base: float = 10000.0, rotary_dim=None) -> np.ndarray:
    """Hugging Face LLaMA's apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, on the first
    rotary_dim features of each head (None: all), the rest passed through (GPT-NeoX's and Phi's
    partial rotary: rotary_ndims / partial_rotary_factor)."""
    x = _f32(x)
    if rotary_dim is not None and rotary_dim != x.shape[-1]:
        rotated = rotary_embedding(x[..., :rotary_dim], positions, base)
        return np.concatenate([rotated, x[..., rotary_dim:]], axis=-1)
    D = x.shape[-1]
    # The inverse frequencies in float64, rounded once: NumPy's float32 power (SIMD, a few ulp)
    # would make long positions (p * inv_freq) drift from every libm-based implementation.
    exponent = (np.arange(0, D, 2, dtype=np.float32) / np.float32(D)).astype(np.float64)
    inv_freq = (1.0 / np.power(float(base), exponent)).astype(np.float32)
    positions = np.asarray(positions).astype(np.float32)
    freqs = positions[..., None] * inv_freq  # [T, D/2] or [B, T, D/2]
    angles = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(angles), np.sin(angles)
    if positions.ndim == 2:  # [B, T, D] -> [B, 1, T, D]
        cos, sin = cos[:, None], sin[:, None]
    half = D // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return (x * cos + rotated * sin).astype(np.float32)
