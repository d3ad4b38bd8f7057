"""The boxes of the Transformer diagram, each one or two calls into the kernels of a backend
(pytransformer/backends: the CPU's on NumPy arrays, or CUDA's on DeviceArrays).

Weights are packed (or uploaded) once, when a layer is built; the forward passes call the
backend without checks because the model checked every shape at load time. Shapes: B = batch, T = positions of this
call, S = source positions (cross-attention), E = d_model, H / Hkv = query / key-value heads,
D = head_dim.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ..backends import CPU
from ..config import GATED_ACTIVATIONS, ModelConfig
from ..weights import Tensors

# A config's activation name -> the one its GEMM epilogue applies (a gated one's gate's).
FUSED_ACTIVATIONS = {name: getattr(_core.Activation, name)
                     for name in ("relu", "gelu", "gelu_tanh", "silu")}
FUSED_ACTIVATIONS.update(
    {name: FUSED_ACTIVATIONS[gate] for name, gate in GATED_ACTIVATIONS.items()})


def _optional(tensors: Tensors, name: str) -> Optional[np.ndarray]:
    value = tensors.get(name)
    return None if value is None else np.ascontiguousarray(value, dtype=np.float32)


def release_pages(tensors: Tensors) -> None:
    """Let the OS drop the pages of a memory-mapped checkpoint read so far (see
    safetensors.MappedTensors): called after each layer is packed, it keeps a model's load from
    holding the file and the packed weights in memory at once. A no-op for plain dicts."""
    release = getattr(tensors, "release_pages", None)
    if release is not None:
        release()


def _heads(x: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
    """[B, T, heads * D] (possibly a column slice) viewed as [B, heads, T, D], no copy."""
    B, T = x.shape[:2]
    return x.reshape(B, T, heads, head_dim).transpose(0, 2, 1, 3)


class Linear:
    """A Linear layer with its weight packed for the GEMM and its activation fused: the int8
    GEMM when the checkpoint holds the weight quantized (int8 + ``.weight_scale``, see
    pytransformer/quantize.py), else float32 (on CUDA, or the backend's float16 / bfloat16)."""

    def __init__(self, tensors: Tensors, name: str, activation=_core.Activation.none, backend=CPU):
        # Any strides: a transposed view (GPT-2's Conv1D weights) packs without a copy.
        self.packed = backend.linear(tensors[name + ".weight"], _optional(tensors, name + ".bias"),
                                     _optional(tensors, name + ".weight_scale"))
        self.activation = activation

    def __call__(self, x: np.ndarray, residual: Optional[np.ndarray] = None) -> np.ndarray:
        return self.packed.forward(x, self.activation, residual)


class Norm:
    """LayerNorm or RMSNorm of ``x + residual`` (the residual add is fused in)."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str, backend=CPU):
        self.backend = backend
        self.rms = config.norm == "rms_norm"
        self.eps = float(config.norm_eps)
        self.weight = backend.weight(tensors[name + ".weight"])
        bias = None if self.rms else _optional(tensors, name + ".bias")
        self.bias = None if bias is None else backend.weight(bias)

    def parts(self):
        """(weight, bias, eps, rms), as the backend's transformer_layer takes a norm."""
        return self.weight, self.bias, self.eps, self.rms

    def __call__(self, x: np.ndarray, residual: Optional[np.ndarray] = None) -> np.ndarray:
        if self.rms:
            return self.backend.rms_norm(x, self.weight, self.eps, residual)
        return self.backend.layer_norm(x, self.weight, self.bias, self.eps, residual)


class Attention:
    """Multi-head attention. Self-attention projects Q, K and V with one fused GEMM; cross-
    attention projects Q from the decoder and K, V (once per source) from the encoder output.
    The attention kernel reads the projections through strided [B, H, T, D] views and writes
    the context as [B, T, H, D], so no head transpose is ever copied."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str, cross: bool = False,
                 backend=CPU, sliding_window: int = 0):
        self.backend = backend
        self.sliding_window = sliding_window  # causal self-attention only; 0 = none
        self.heads = config.num_heads
        self.kv_heads = config.kv_heads
        self.head_dim = config.head_dim
        self.scale = config.score_scale
        self.rotary_base = float(config.rope_base) if config.positions == "rotary" and not cross else None
        self.rotary_dim = config.rotary_dim or 0  # 0: all of head_dim
        self.cross = cross
        self.q_norm = self.k_norm = None
        if cross:
            self.q = Linear(tensors, name + ".q", backend=backend)
            self.kv = Linear(tensors, name + ".kv", backend=backend)
        else:
            self.qkv = Linear(tensors, name + ".qkv", backend=backend)
            if config.qk_norm:  # over each head's D features (Qwen3)
                self.q_norm = Norm(config, tensors, name + ".q_norm", backend)
                self.k_norm = Norm(config, tensors, name + ".k_norm", backend)
        self.out = Linear(tensors, name + ".out", backend=backend)

    def _head_norm(self, norm: Norm, x):
        """norm over D of x [B, heads, T, D] (a view of [B, T, heads, D]), as such a view."""
        return norm(self.backend.contiguous(x.transpose(0, 2, 1, 3))).transpose(0, 2, 1, 3)

    def project_memory(self, memory: np.ndarray):
        """Cross-attention keys and values [B, Hkv, S, D] of an encoder output, to be reused by
        every decoder step."""
        kv = self.kv(memory)
        split = self.kv_heads * self.head_dim
        return (_heads(kv[..., :split], self.kv_heads, self.head_dim),
                _heads(kv[..., split:], self.kv_heads, self.head_dim))

    def __call__(self, x: np.ndarray, residual: np.ndarray, *, key_padding_mask=None,
                 causal: bool = False, positions: Optional[np.ndarray] = None,
                 memory_kv=None, offsets=None, cache=None, layer: int = 0,
                 bias=None) -> np.ndarray:
        """x: [B, T, E]. Self-attention with a ``cache`` (DecoderCache) writes this call's keys
        and values at positions [cache.length, cache.length + T) of layer ``layer`` and attends
        over all of them (key_padding_mask then covers [B, cache.length + T]). bias: an
        additive bias [B, H, T, keys] of the scores (T5's relative positions).

        Packed (padding-free) sequences: for self-attention, x is [1, N, E] holding every
        sequence's tokens back to back and ``offsets`` [B + 1] says where each starts; for
        cross-attention, ``offsets`` packs the memory's keys (memory_kv from a packed encoder
        output) while the queries stay [B, T, E]."""
        B, T, E = x.shape
        H, Hkv, D = self.heads, self.kv_heads, self.head_dim
        if self.cross:
            q = _heads(self.q(x), H, D)
            k, v = memory_kv
        else:
            qkv = self.qkv(x)  # [B, T, (H + 2 Hkv) D]
            q = _heads(qkv[..., : H * D], H, D)
            k = _heads(qkv[..., H * D: (H + Hkv) * D], Hkv, D)
            v = _heads(qkv[..., (H + Hkv) * D:], Hkv, D)
            if self.q_norm is not None:  # [B, T, heads, D] normalised over D, viewed as heads
                q = self._head_norm(self.q_norm, q)
                k = self._head_norm(self.k_norm, k)
            if self.rotary_base is not None:
                q = self.backend.rotary(q, positions, self.rotary_base, self.rotary_dim)
                k = self.backend.rotary(k, positions, self.rotary_base, self.rotary_dim)
            if cache is not None:
                cache.store.write(layer, k, v, cache.length)
                end = cache.length + T
                k = cache.store.keys(layer)[:, :, :end]
                v = cache.store.values(layer)[:, :, :end]
        context = self.backend.empty((B, T, H, D))
        q_offsets = None if self.cross else offsets
        self.backend.attention(q, k, v, key_padding_mask, causal, self.scale,
                               context.transpose(0, 2, 1, 3), q_offsets, offsets,
                               self.sliding_window, bias)
        return self.out(context.reshape(B, T, H * D), residual)


class FeedForward:
    """The position-wise FFN: activation fused into the first GEMM and the residual into the
    last; the gated form (SwiGLU) multiplies silu(x W_gate) by x W_up in between."""

    def __init__(self, config: ModelConfig, tensors: Tensors, name: str, backend=CPU):
        self.backend = backend
        self.gated = config.activation in GATED_ACTIVATIONS
        self.activation = FUSED_ACTIVATIONS[config.activation]  # of up, or of the gate when gated
        if self.gated:
            self.gate = Linear(tensors, name + ".gate", backend=backend)
            self.up = Linear(tensors, name + ".up", backend=backend)
        else:
            self.up = Linear(tensors, name + ".up", self.activation, backend)
        self.down = Linear(tensors, name + ".down", backend=backend)

    def __call__(self, x: np.ndarray, residual: np.ndarray) -> np.ndarray:
        if self.gated:
            hidden = self.backend.gated_activation(self.gate(x), self.up(x), self.activation)
        else:
            hidden = self.up(x)
        return self.down(hidden, residual)


def shared_bias(bias: Optional[np.ndarray], batch: int) -> Optional[np.ndarray]:
    """A bias [1, H, Tq, Tk] seen by each of ``batch`` sequences as the [batch, H, Tq, Tk] view
    (no copy) a whole-layer call takes."""
    return None if bias is None else np.broadcast_to(bias, (batch,) + bias.shape[1:])


def relative_bias(config: ModelConfig, tensors: Tensors, name: str, bidirectional: bool):
    """The RelativePositionBias of a stack (config.relative_position_bias: T5, MPNet), or None."""
    if not config.relative_position_bias:
        return None
    from .relative_positions import RelativePositionBias

    return RelativePositionBias(tensors[name], bidirectional, config.relative_max_distance)


def whole_layer(config: ModelConfig, self_attn: Attention, self_norm: Norm, ffn: FeedForward,
                ffn_norm: Norm, cross_attn: Optional[Attention] = None,
                cross_norm: Optional[Norm] = None, backend=CPU):
    """The layer made of these boxes as one backend call (the CPU's C++ TransformerLayer, which
    shares their packed weights), or None on a backend that runs layers op by op. Its forward
    computes what the boxes' own calls compute, in the same order, with the same kernels."""
    build = getattr(backend, "transformer_layer", None)
    if build is None:
        return None
    cross = {}
    if cross_attn is not None:
        cross = dict(cross_q=cross_attn.q.packed, cross_out=cross_attn.out.packed,
                     cross_norm=cross_norm.parts())
    return build(heads=self_attn.heads, kv_heads=self_attn.kv_heads, head_dim=self_attn.head_dim,
                 pre_norm=config.norm_position == "pre", rotary_base=self_attn.rotary_base,
                 rotary_dim=self_attn.rotary_dim,
                 parallel_residual=config.parallel_residual,
                 sliding_window=self_attn.sliding_window, attention_scale=self_attn.scale,
                 activation=ffn.activation, qkv=self_attn.qkv.packed,
                 out=self_attn.out.packed, self_norm=self_norm.parts(),
                 q_norm=None if self_attn.q_norm is None else self_attn.q_norm.parts(),
                 k_norm=None if self_attn.k_norm is None else self_attn.k_norm.parts(),
                 up=ffn.up.packed,
                 gate=ffn.gate.packed if ffn.gated else None, down=ffn.down.packed,
                 ffn_norm=ffn_norm.parts(), **cross)
