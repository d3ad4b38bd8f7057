"""Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2 and kin:
tokenize, encode, mean-pool the token states over the attention mask, L2-normalise."""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from .api import load


class SentenceEncoder:
    """``SentenceEncoder(path).encode(sentences)`` -> [N, d_model] unit-norm float32 embeddings.

    ``path`` is a checkpoint folder with a ``tokenizer.json`` (Hugging Face ``tokenizers``, which
    must be installed: ``pip install tokenizers``). The maximum sequence length comes from
    ``sentence_bert_config.json`` when present (as in sentence-transformers), else the model's
    position count; longer inputs are truncated. ``compute_type`` as in
    :func:`pytransformer.load` (``"int8"``: int8 Linear layers).
    """

    def __init__(self, path, normalize: bool = True, compute_type=None):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ImportError("SentenceEncoder needs the 'tokenizers' package: "
                              "pip install tokenizers") from None
        path = os.fspath(path)
        tokenizer_path = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(tokenizer_path):
            raise FileNotFoundError(f"{path}: no tokenizer.json")
        self.model = load(path, compute_type=compute_type)
        if not hasattr(self.model, "encode"):
            raise ValueError(f"{path}: SentenceEncoder needs an encoder model")
        max_length = self.model.config.max_positions
        st_config = os.path.join(path, "sentence_bert_config.json")
        if os.path.isfile(st_config):
            with open(st_config) as f:
                max_length = min(max_length, int(json.load(f).get("max_seq_length", max_length)))
        self.max_length = max_length
        self.normalize = normalize
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=self.model.config.pad_token_id or 0)

    def encode(self, sentences: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if isinstance(sentences, str):
            raise TypeError("sentences: expected a list of strings, got one str (wrap it in a list)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        sentences = list(sentences)
        if not all(isinstance(s, str) for s in sentences):
            raise TypeError("sentences: expected a list of strings")
        out = np.empty((len(sentences), self.model.config.d_model), dtype=np.float32)
        for start in range(0, len(sentences), batch_size):
            batch = self.tokenizer.encode_batch(sentences[start:start + batch_size])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            types = np.array([e.type_ids for e in batch], dtype=np.int64)
            hidden = self.model.encode(ids, mask, types)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if self.normalize:
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[start:start + len(batch)] = pooled
        return out
