"""T5's relative position bias (ModelConfig.relative_position_bias; also MPNet's): every
self-attention of a stack adds a learned bias per head to its scores, looked up by the bucket
of the distance key position - query position. Distances below half the buckets (a quarter when
bidirectional, each direction then having its own half) get a bucket each; longer ones share
logarithmically wider buckets up to max_distance, past which they all share the last one.

The bias depends on the positions only, so a stack computes it once per call, [1, H, Tq, Tk],
and every layer and every sequence of the batch reads it (a packed batch: each sequence the
top-left corner, see ops.scaled_dot_product_attention).
"""

from __future__ import annotations

import math

import numpy as np


def relative_position_bucket(relative: np.ndarray, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> np.ndarray:
    """The bucket of each distance (key position - query position), as transformers'
    T5Attention._relative_position_bucket computes it; the logarithmic part in float32 as there,
    so that distances on a bucket boundary land in the same bucket."""
    relative = np.asarray(relative, dtype=np.int64)
    buckets = np.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0) * num_buckets
        distance = np.abs(relative)
    else:  # a decoder looks back only: later keys share bucket 0 (the causal mask hides them)
        distance = -np.minimum(relative, 0)
    max_exact = num_buckets // 2
    # Clamped below at max_exact so the log stays finite where the exact bucket is used anyway.
    far = np.maximum(distance, max_exact).astype(np.float32)
    log_ratio = np.log(far / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact))
    wide = max_exact + (log_ratio * np.float32(num_buckets - max_exact)).astype(np.int64)
    return buckets + np.where(distance < max_exact, distance, np.minimum(wide, num_buckets - 1))


class RelativePositionBias:
    """table [buckets, H] (the first layer's ``relative_attention_bias`` in transformers)."""

    def __init__(self, table: np.ndarray, bidirectional: bool, max_distance: int):
        self.table_by_head = np.ascontiguousarray(np.asarray(table, dtype=np.float32).T)  # [H, buckets]
        self.bidirectional = bidirectional
        self.max_distance = max_distance

    def __call__(self, query_positions: np.ndarray, key_positions: np.ndarray) -> np.ndarray:
        """The bias [1, H, Tq, Tk] of queries and keys at these positions (int [Tq], [Tk])."""
        relative = np.asarray(key_positions)[None, :] - np.asarray(query_positions)[:, None]
        buckets = relative_position_bucket(relative, self.bidirectional,
                                           self.table_by_head.shape[1], self.max_distance)
        return np.take(self.table_by_head, buckets, axis=1)[None]
