"""The state of one decoding run: the KV cache of every decoder layer (the backend's storage,
preallocated for rows = batch x beams and the run's maximum length) and, for an encoder-
decoder, the encoder output's cross-attention keys and values, computed once per source."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..backends import CPU
from ..config import ModelConfig


class DecoderCache:
    def __init__(self, config: ModelConfig, layers: int, rows: int, max_length: int,
                 group_size: int = 1, backend=CPU):
        # keys(layer) / values(layer): [R, Hkv, T, D] views of the positions written so far
        self.store = backend.kv_cache(layers, rows, config.kv_heads, max_length, config.head_dim)
        self.rows = rows
        self.max_length = max_length
        self.length = 0  # positions written so far (all layers)
        # Rows come in groups of group_size (the beams of one input) sharing one source.
        self.group_size = group_size
        # Encoder-decoders: per layer (keys, values) [1, Hkv, N, D] of the packed source tokens
        # of every row, and their offsets [R + 1], set by EncoderDecoder.start.
        self.memory_kv: Optional[List[Tuple[np.ndarray, np.ndarray]]] = None
        self.memory_offsets: Optional[np.ndarray] = None

    def reorder(self, sources: Sequence[int]) -> None:
        """Row r continues old row sources[r] (beam search), which must lie in r's group (the
        beams of one input share its source, so the cross-attention memory never moves).
        Nothing is copied for rows that keep their own history."""
        sources = np.asarray(sources, dtype=np.int64)
        rows = np.arange(self.rows)
        if sources.shape != (self.rows,):
            raise ValueError(f"sources: expected {self.rows} rows, got shape {sources.shape}")
        if np.any(sources // self.group_size != rows // self.group_size):
            raise ValueError(f"sources: rows may only continue rows of their own group of "
                             f"{self.group_size}")
        if np.any(sources != rows):
            self.store.reorder(sources.tolist(), self.length)
