"""Token embeddings plus positions (learned or sinusoidal tables; rotary ones are applied inside
attention instead), token types, the embedding scale and the optional norm after them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ..config import ModelConfig
from ..weights import Tensors
from .layers import Norm


class Embeddings:
    def __init__(self, config: ModelConfig, tensors: Tensors, prefix: str = "embed",
                 fallback: Optional[str] = None):
        def get(name: str) -> np.ndarray:
            key = f"{prefix}.{name}"
            if key not in tensors and fallback is not None:
                key = f"{fallback}.{name}"
            return np.ascontiguousarray(tensors[key], dtype=np.float32)

        self.d_model = config.d_model
        self.scale = float(config.embedding_scale)
        self.tokens = get("tokens")
        if config.positions == "learned":
            self.positions = get("positions")
        elif config.positions == "sinusoidal":
            self.positions = _core.sinusoidal_positions(config.max_positions, config.d_model)
        else:  # rotary (applied in attention) or none
            self.positions = None
        self.token_types = get("token_types") if config.type_vocab_size else None
        self.norm = None
        if config.embedding_norm:
            norm_prefix = prefix if f"{prefix}.norm.weight" in tensors or fallback is None else fallback
            self.norm = Norm(config, tensors, f"{norm_prefix}.norm")

    @property
    def max_positions(self) -> Optional[int]:
        return None if self.positions is None else self.positions.shape[0]

    def __call__(self, ids: np.ndarray, position_ids: np.ndarray,
                 token_type_ids: Optional[np.ndarray] = None) -> np.ndarray:
        """ids, position_ids, token_type_ids: int64 [B, T] -> [B, T, E]."""
        h = _core.embedding(ids, self.tokens, self.scale)
        extra = None
        if self.positions is not None:
            extra = _core.embedding(position_ids, self.positions, 1.0)
        if self.token_types is not None:
            types = (_core.embedding(token_type_ids, self.token_types, 1.0)
                     if token_type_ids is not None else self.token_types[0])
            extra = types if extra is None else extra + types
        if self.norm is not None:
            return self.norm(h, None if extra is None else np.ascontiguousarray(
                np.broadcast_to(extra, h.shape), dtype=np.float32))
        if extra is not None:
            h += extra
        return h
