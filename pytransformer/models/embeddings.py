"""Token embeddings plus positions (learned or sinusoidal tables; rotary ones are applied inside
attention instead), token types, the embedding scale and the optional norm after them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ..backends import CPU
from ..config import ModelConfig
from ..weights import Tensors
from .layers import Norm


class Embeddings:
    def __init__(self, config: ModelConfig, tensors: Tensors, prefix: str = "embed",
                 fallback: Optional[str] = None, backend=CPU):
        def get(name: str):
            key = f"{prefix}.{name}"
            if key not in tensors and fallback is not None:
                key = f"{fallback}.{name}"
            return backend.weight(tensors[key])

        self.backend = backend
        self.d_model = config.d_model
        self.scale = float(config.embedding_scale)
        self.tokens = get("tokens")
        if config.positions == "learned":
            self.positions = get("positions")
        elif config.positions == "sinusoidal":
            self.positions = backend.weight(_core.sinusoidal_positions(config.max_positions, config.d_model))
        else:  # rotary (applied in attention) or none
            self.positions = None
        self.token_types = get("token_types") if config.type_vocab_size else None
        self.norm = None
        if config.embedding_norm:
            norm_prefix = prefix if f"{prefix}.norm.weight" in tensors or fallback is None else fallback
            self.norm = Norm(config, tensors, f"{norm_prefix}.norm", backend)

    @property
    def max_positions(self) -> Optional[int]:
        return None if self.positions is None else self.positions.shape[0]

    def __call__(self, ids: np.ndarray, position_ids: np.ndarray,
                 token_type_ids: Optional[np.ndarray] = None) -> np.ndarray:
        """ids, position_ids, token_type_ids: int64 [B, T] (NumPy) -> [B, T, E]."""
        backend = self.backend
        h = backend.embedding(ids, self.tokens, self.scale)
        extra = None
        if self.positions is not None:
            extra = backend.embedding(position_ids, self.positions, 1.0)
        if self.token_types is not None:
            types = (backend.embedding(token_type_ids, self.token_types, 1.0)
                     if token_type_ids is not None else self.token_types[0])
            extra = types if extra is None else backend.add(extra, types)
        if extra is not None and extra.shape != h.shape:  # positions shared by the batch
            extra = backend.broadcast(extra, h.shape)
        if self.norm is not None:
            return self.norm(h, extra)
        return h if extra is None else backend.add(h, extra)
