"""Helpers shared by the checkpoint converters."""

from __future__ import annotations

from typing import Dict, Tuple

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
