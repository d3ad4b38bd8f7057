"""Encoder-only Transformers (BERT and family, nn.TransformerEncoder): token ids in, last hidden
states out. Post-LN (the 2017 paper, BERT) and pre-LN layers are both supported."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _checks, _core
from ..backends import CPU
from ..config import ModelConfig
from ..weights import Tensors
from .embeddings import Embeddings
from .layers import (FUSED_ACTIVATIONS, Attention, FeedForward, Linear, Norm, relative_bias,
                     release_pages, shared_bias, whole_layer)


class EncoderLayer:
    def __init__(self, config: ModelConfig, tensors: Tensors, name: str, backend=CPU):
        self.pre_norm = config.norm_position == "pre"
        self.attention = Attention(config, tensors, name + ".attn", backend=backend)
        self.attn_norm = Norm(config, tensors, name + ".attn_norm", backend)
        self.ffn = FeedForward(config, tensors, name + ".ffn", backend)
        self.ffn_norm = Norm(config, tensors, name + ".ffn_norm", backend)
        self.whole = whole_layer(config, self.attention, self.attn_norm, self.ffn, self.ffn_norm,
                                 backend=backend)

    def __call__(self, h: np.ndarray, offsets: np.ndarray, positions: np.ndarray,
                 bias: Optional[np.ndarray] = None) -> np.ndarray:
        """h: [1, N, E], the tokens of every sequence back to back (offsets [B + 1]); bias: the
        attention's [1, H, longest, longest] (relative positions)."""
        if self.whole is not None:
            return self.whole.forward(h, offsets=offsets, positions=positions,
                                      attention_bias=shared_bias(bias, len(offsets) - 1))
        attend = lambda x, r: self.attention(x, r, offsets=offsets, positions=positions, bias=bias)
        if self.pre_norm:  # h + Attn(LN(h)), then + FFN(LN(.))
            h = attend(self.attn_norm(h), h)
            return self.ffn(self.ffn_norm(h), h)
        # post-LN: LN(h + Attn(h)), then LN(. + FFN(.))
        h = self.attn_norm(attend(h, h))
        return self.ffn_norm(self.ffn(h, h))


class PackedBatch:
    """The real tokens of a padded batch [B, T], back to back: padding costs no work.
    index: their flat positions in [B * T] (None when every position is real, so that packing
    and unpacking are reshapes); offsets [B + 1]: where each sequence starts."""

    def __init__(self, key_padding_mask: Optional[np.ndarray], shape):
        B, T = shape
        self.shape = (B, T)
        if key_padding_mask is None or not key_padding_mask.any():
            self.index = None
            self.offsets = np.arange(0, (B + 1) * T, T, dtype=np.int64)
            self.columns = np.tile(np.arange(T, dtype=np.int64), B)[None]
            return
        keep = ~key_padding_mask
        self.index = np.flatnonzero(keep)
        self.offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
        self.columns = (self.index % T).astype(np.int64)[None]  # each token's position in its row

    def ranks(self) -> np.ndarray:
        """[1, N]: each token's index among the real tokens of its sequence."""
        lengths = np.diff(self.offsets)
        return (np.arange(self.offsets[-1]) - np.repeat(self.offsets[:-1], lengths))[None]

    def pack(self, x: np.ndarray) -> np.ndarray:
        """[B, T, ...] -> [1, N, ...]"""
        flat = x.reshape(1, self.shape[0] * self.shape[1], *x.shape[2:])
        return flat if self.index is None else flat[:, self.index]

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """[1, N, E] -> [B, T, E], zeros at padded positions."""
        B, T = self.shape
        if self.index is None:
            return packed.reshape(B, T, -1)
        out = np.zeros((B * T, packed.shape[-1]), dtype=np.float32)
        out[self.index] = packed[0]
        return out.reshape(B, T, -1)


class EncoderStack:
    """Embeddings, the layers, the optional final norm, run on the real tokens only (see
    PackedBatch). Shared by Encoder and EncoderDecoder."""

    def __init__(self, config: ModelConfig, tensors: Tensors, backend=CPU):
        self.config = config
        self.backend = backend
        self.embeddings = Embeddings(config, tensors, "embed", backend=backend)
        self.relative_bias = relative_bias(config, tensors, "encoder.relative_bias", bidirectional=True)
        self.layers = []
        for i in range(config.num_layers):
            self.layers.append(EncoderLayer(config, tensors, f"encoder.{i}", backend))
            release_pages(tensors)
        self.final_norm = Norm(config, tensors, "encoder.final_norm", backend) if config.final_norm else None

    def __call__(self, ids: np.ndarray, batch: PackedBatch, token_type_ids=None) -> np.ndarray:
        """The packed output [1, N, E] of ids [B, T]."""
        positions = batch.ranks() if self.config.positions_skip_padding else batch.columns
        limit = self.embeddings.max_positions
        length = int(positions.max()) + 1 if positions.size else 0
        if limit is not None and length > limit:
            raise ValueError(f"input_ids: sequence length {length} exceeds the model's "
                             f"{limit} positions")
        types = None if token_type_ids is None else batch.pack(token_type_ids)
        h = self.embeddings(batch.pack(ids), positions, types)
        bias = None
        if self.relative_bias is not None:
            longest = np.arange(int(np.diff(batch.offsets).max()) if ids.shape[0] else 0)
            bias = self.relative_bias(longest, longest)
        for layer in self.layers:
            h = layer(h, batch.offsets, positions, bias)
        return self.final_norm(h) if self.final_norm is not None else h


def key_padding_mask(attention_mask, shape) -> Optional[np.ndarray]:
    """Hugging Face's attention_mask (1 = token, 0 = padding) as the kernels' key padding mask
    (True = ignore)."""
    if attention_mask is None:
        return None
    mask = np.asarray(attention_mask)
    if mask.dtype != np.bool_:
        mask = _checks.integers(mask, "attention_mask")
    if mask.shape != tuple(shape):
        raise ValueError(f"attention_mask: expected shape {tuple(shape)}, got {mask.shape}")
    return np.ascontiguousarray(mask == 0)


def token_ids(value, name: str, vocab_size: int) -> np.ndarray:
    ids = _checks.integers(value, name)
    _checks.rank(ids, name, 2, "[B, T]")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids[(ids < 0) | (ids >= vocab_size)][0]
        raise ValueError(f"{name}: token id {bad} is outside the vocabulary [0, {vocab_size})")
    return ids


class ClassificationHead:
    """logits = out(activation(dense(first token's state))): BERT's pooler and classifier,
    RoBERTa's and MPNet's classifier, DistilBERT's pre_classifier and classifier. It reads a
    row per sequence, so it runs on the CPU whatever the model's backend (tanh in NumPy)."""

    def __init__(self, config: ModelConfig, tensors: Tensors):
        fused = FUSED_ACTIVATIONS.get(config.classifier_activation, _core.Activation.none)
        self.dense = Linear(tensors, "classifier.dense", fused)
        self.tanh = config.classifier_activation == "tanh"
        self.out = Linear(tensors, "classifier.out")

    def __call__(self, first: np.ndarray) -> np.ndarray:
        hidden = self.dense(first)
        return self.out(np.tanh(hidden) if self.tanh else hidden)


class Encoder:
    """An encoder built from a config and canonical tensors (see pytransformer.weights), run
    by ``backend`` (pytransformer.backends: CPU by default)."""

    def __init__(self, config: ModelConfig, tensors: Tensors, backend=CPU):
        if config.kind != "encoder":
            raise ValueError(f"config.kind: Encoder needs 'encoder', got {config.kind!r}")
        self.config = config
        self.backend = backend
        self.stack = EncoderStack(config, tensors, backend)
        self.head = ClassificationHead(config, tensors) if config.num_labels else None

    def _run(self, input_ids, attention_mask, token_type_ids):
        """(the packed output [1, N, E] on the backend, the PackedBatch) of checked inputs."""
        ids = token_ids(input_ids, "input_ids", self.config.vocab_size)
        if token_type_ids is not None:
            token_type_ids = token_ids(token_type_ids, "token_type_ids", max(self.config.type_vocab_size, 1))
            if token_type_ids.shape != ids.shape:
                raise ValueError(f"token_type_ids: expected shape {ids.shape}, got {token_type_ids.shape}")
        batch = PackedBatch(key_padding_mask(attention_mask, ids.shape), ids.shape)
        return self.stack(ids, batch, token_type_ids), batch

    def encode(self, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
        """Last hidden states [B, T, d_model] of input_ids [B, T]. attention_mask [B, T]
        follows Hugging Face: 1 = token, 0 = padding. Only the real tokens are computed
        (padding-free): padded positions' outputs are zeros."""
        packed, batch = self._run(input_ids, attention_mask, token_type_ids)
        return batch.unpack(self.backend.to_numpy(packed))

    def classify(self, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
        """Logits [B, num_labels] of a checkpoint with a sequence classification head
        (BertForSequenceClassification and kin: sentiment models, cross-encoder rerankers),
        from each sequence's first token; arguments as :meth:`encode`. The labels' names are
        config.json's ``id2label``."""
        if self.head is None:
            raise ValueError("classify: this checkpoint has no sequence classification head "
                             "(config.num_labels is 0); encode() gives its hidden states")
        packed, batch = self._run(input_ids, attention_mask, token_type_ids)
        starts = batch.offsets[:-1]
        empty = np.flatnonzero(np.diff(batch.offsets) == 0)
        if empty.size:
            raise ValueError(f"attention_mask: row {empty[0]} has no token to classify")
        first = self.backend.to_numpy(self.backend.take_rows(packed[0], starts))
        return self.head(first)
