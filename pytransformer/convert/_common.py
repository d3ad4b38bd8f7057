"""Helpers shared by the checkpoint converters."""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np

from ..config import check_int

Tensors = Dict[str, np.ndarray]


# transformers' ACT2FN names -> ours. gelu_new, gelu_fast, gelu_accurate and gelu_pytorch_tanh are
# the same tanh approximation written four ways; gelu_python is the exact (erf) gelu.
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_python": "gelu", "gelu_new": "gelu_tanh",
                  "gelu_fast": "gelu_tanh", "gelu_accurate": "gelu_tanh",
                  "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu", "silu": "silu", "swish": "silu"}


def hf_activation(raw: dict, field: str, default: str) -> str:
    """Our activation for config.json's ``field`` (``default`` when absent, as transformers does)."""
    name = raw.get(field, default)
    if name not in HF_ACTIVATIONS:
        raise ValueError(f"config.json: {field} {name!r} is not supported; supported: "
                         f"{', '.join(HF_ACTIVATIONS)}")
    return HF_ACTIVATIONS[name]


def hf_int(raw: dict, field: str, default: int, minimum: int = 1) -> int:
    """config.json's int ``field``, ``default`` when absent or null (transformers fills a
    missing field with its config class's default), else a ValueError naming the field."""
    value = raw.get(field)
    return check_int(default if value is None else value, f"config.json: {field}", minimum)


def hf_head_dim(width: int, heads: int, width_field: str, heads_field: str) -> int:
    """Each head's width, width / heads, for families whose heads split the hidden width; a
    ValueError naming config.json's fields when they do not."""
    if width % heads:
        raise ValueError(f"config.json: {heads_field}={heads} does not divide "
                         f"{width_field}={width}")
    return width // heads


def hf_rope(raw: dict, head_dim: int, fraction_default: Optional[float] = None, *,
            fraction_field: str = "partial_rotary_factor",
            base_field: str = "rope_theta") -> Tuple[float, Optional[int]]:
    """(base, rotary_dim) of config.json's rotary positions as transformers reads them: rotary_dim
    = int(head_dim * partial_rotary_factor) features of each head rotated, None for all of them.
    transformers 5 keeps rope_theta, the rope type and partial_rotary_factor in
    "rope_parameters"; older files have them at the top level, as fraction_field and base_field
    (GPT-NeoX: rotary_pct and rotary_emb_base; its config class reads no other spelling).
    fraction_default: the config class's fraction for a file without one (Phi-3 1, StableLM and
    GPT-NeoX 0.25, Phi 0.5), or None for a family whose rotary embedding always covers the whole
    head, which transformers gives every feature whatever the factor says (LLaMA, Mistral,
    Qwen2, Qwen3, Gemma). Scaled ropes (linear, dynamic, yarn, longrope, llama3) are refused."""
    params = raw.get("rope_parameters") or {}
    scaling = raw.get("rope_scaling") or {}
    for source in (params, scaling):
        kind = source.get("rope_type", source.get("type", "default"))
        if kind not in ("default", None):
            raise ValueError(f"config.json: rope scaling {kind!r} is not supported; "
                             "supported: default")
    base_name = "rope_parameters.rope_theta" if "rope_theta" in params else base_field
    base = params.get("rope_theta", raw.get(base_field, 10000.0))
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not (
            math.isfinite(base) and base > 0):
        raise ValueError(f"config.json: {base_name} {base!r}: expected a positive number")
    if fraction_default is None:
        return float(base), None
    fraction_name = ("rope_parameters.partial_rotary_factor"
                     if "partial_rotary_factor" in params else fraction_field)
    fraction = params.get("partial_rotary_factor", raw.get(fraction_field, fraction_default))
    if fraction is None:
        fraction = fraction_default
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
            or not 0 < fraction <= 1):
        raise ValueError(f"config.json: {fraction_name} {fraction!r}: expected a number in (0, 1]")
    rotary_dim = int(head_dim * fraction)
    if rotary_dim % 2 or rotary_dim < 2:
        raise ValueError(f"config.json: {fraction_name} {fraction!r} rotates {rotary_dim} of "
                         f"head_dim={head_dim} features; expected an even number of at least 2")
    return float(base), (None if rotary_dim == head_dim else rotary_dim)


def stack_qkv_by_kind(rows: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
    """A fused q/k/v projection's weight or bias whose rows hold each head's q, k and v side by
    side ([H, 3, D] rows: GPT-NeoX, GPT-BigCode without multi_query), with its rows regrouped as
    ours: every head's q, then every k, then every v ([3, H, D])."""
    grouped = rows.reshape((heads, 3, head_dim) + rows.shape[1:]).swapaxes(0, 1)
    return np.ascontiguousarray(grouped.reshape(rows.shape))


def linear(src: "Source", name: str, ours: str, rows: int, cols: int, bias: bool = True) -> Tensors:
    """The nn.Linear ``name`` (weight [rows, cols], and bias [rows] if ``bias``) under our name
    ``ours``."""
    out = {ours + ".weight": src.get(name + ".weight", (rows, cols))}
    if bias:
        out[ours + ".bias"] = src.get(name + ".bias", (rows,))
    return out


def layer_norm(src: "Source", name: str, ours: str, width: int) -> Tensors:
    """The LayerNorm ``name`` (weight and bias of ``width`` features) under our name ``ours``."""
    return {ours + ".weight": src.get(name + ".weight", (width,)),
            ours + ".bias": src.get(name + ".bias", (width,))}


class CheckpointError(ValueError):
    """A checkpoint lacks a tensor the config implies, or has one of the wrong shape."""


class Source:
    """Named lookups into a checkpoint, with errors that name the missing or misshapen tensor."""

    def __init__(self, tensors: Tensors, prefix: str = ""):
        self.tensors = tensors
        self.prefix = prefix

    def has(self, name: str) -> bool:
        return self.prefix + name in self.tensors

    def get(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        full = self.prefix + name
        if full not in self.tensors:
            raise CheckpointError(f"checkpoint is missing tensor {full!r}")
        array = self.tensors[full]
        if tuple(array.shape) != tuple(shape):
            raise CheckpointError(f"checkpoint tensor {full!r}: expected shape {tuple(shape)}, "
                             f"found {tuple(array.shape)}")
        return np.asarray(array, dtype=np.float32)
