"""Hugging Face Marian encoder-decoders (model_type "marian": MarianModel, MarianMTModel, the
opus-mt checkpoints) -> our config and canonical tensors.

transformers runs Marian with BART's layer code (see hf_bart): post-LN, no norm after the
embeddings, no final norm, token embeddings times sqrt(d_model) when ``scale_embedding`` (true in
the opus-mt configs), a ``final_logits_bias`` and activation "swish" (silu) in the opus-mt configs.

Positions are sinusoidal but not in the 2017 paper's interleaved layout:
MarianSinusoidalPositionalEmbedding puts every sine first and every cosine after them. So we
store the table itself as a learned one: the checkpoint's when it holds one (MarianModel and older
versions save ``encoder.embed_positions.weight``), else the same numbers computed here
(MarianMTModel in transformers 5 recomputes the table at load time and does not save it).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Tensors
from .hf_bart import complete, model_source, seq2seq_config

MARIAN_DEFAULTS = {
    "vocab_size": 58101, "max_position_embeddings": 1024, "d_model": 1024,
    "encoder_layers": 12, "decoder_layers": 12, "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
    "encoder_attention_heads": 16, "decoder_attention_heads": 16, "activation_function": "gelu",
    "scale_embedding": False, "pad_token_id": 58100, "tie_word_embeddings": True,
}


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    config = seq2seq_config(raw, MARIAN_DEFAULTS, norm_position="post")
    # transformers sets decoder_vocab_size to vocab_size when absent or null.
    decoder_vocab = raw.get("decoder_vocab_size") or config.vocab_size
    if decoder_vocab != config.vocab_size:
        raise ValueError(f"config.json: decoder_vocab_size={decoder_vocab} differs from "
                         f"vocab_size={config.vocab_size}; separate source and target "
                         "vocabularies are not supported")
    src = model_source(tensors)
    P, E = config.max_positions, config.d_model
    name = "encoder.embed_positions.weight"
    out = {"embed.positions": src.get(name, (P, E)) if src.has(name) else marian_positions(P, E)}
    name = "decoder.embed_positions.weight"
    # Both stacks hold the same table; the decoder falls back to embed.* unless its own differs.
    if src.has(name) and not np.array_equal(src.get(name, (P, E)), out["embed.positions"]):
        out["decoder_embed.positions"] = src.get(name, (P, E))
    return complete(config, tensors, src, out)


def marian_positions(num_positions: int, dim: int) -> np.ndarray:
    """MarianSinusoidalPositionalEmbedding.create_weight in NumPy: angle ``pos / 10000^(2i/dim)``
    for column pair i, sines of all pairs in the first ceil(dim/2) columns, then their cosines.
    Computed in float64 and rounded to float32, as transformers does."""
    pos = np.arange(num_positions, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angles = pos / np.power(10000.0, 2 * (j // 2) / dim)
    table = np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1)
    return table.astype(np.float32)
