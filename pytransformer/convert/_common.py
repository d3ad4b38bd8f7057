"""Helpers shared by the checkpoint converters."""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

Tensors = Dict[str, np.ndarray]


class CheckpointError(ValueError):
    """A checkpoint lacks a tensor the config implies, or has one of the wrong shape."""


class Source:
    """Named lookups into a checkpoint, with errors that name the missing or misshapen tensor."""

    def __init__(self, tensors: Tensors, prefix: str = ""):
        self.tensors = tensors
        self.prefix = prefix

    def get(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        full = self.prefix + name
        if full not in self.tensors:
            raise CheckpointError(f"checkpoint is missing tensor {full!r}")
        array = self.tensors[full]
        if tuple(array.shape) != tuple(shape):
            raise CheckpointError(f"checkpoint tensor {full!r}: expected shape {tuple(shape)}, "
                             f"found {tuple(array.shape)}")
        return np.asarray(array, dtype=np.float32)
