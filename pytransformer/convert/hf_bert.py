"""Hugging Face BERT-family encoders -> our config and canonical tensors: model_type "bert"
(BertModel, BertFor*, MiniLM, sentence-transformers checkpoints) and the RoBERTa layout,
"roberta", "xlm-roberta" and "camembert" (the same layers; positions counted over the real
tokens only, starting after the padding id, and one token type), and "distilbert" (BERT's
post-LN layer under other names, no token types)."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_int

# BertConfig's defaults, used for a field missing from config.json (as transformers does).
BERT_DEFAULTS = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "intermediate_size": 3072,
                 "max_position_embeddings": 512}


def _convert(raw: dict, tensors: Tensors, model_prefix: str,
             roberta: bool) -> Tuple[ModelConfig, Tensors]:
    activation = hf_activation(raw, "hidden_act", "gelu")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"config.json: position_embedding_type "
                         f"{raw['position_embedding_type']!r} is not supported; supported: absolute")
    size = {key: hf_int(raw, key, default) for key, default in BERT_DEFAULTS.items()}
    # RoBERTa numbers the real tokens of a sequence from pad_token_id + 1 (fairseq's padding-
    # aware positions, create_position_ids_from_input_ids): we keep the table's rows from there
    # on, so that our position p (the p-th real token) reads the row transformers reads.
    first_position = hf_int(raw, "pad_token_id", 1, minimum=0) + 1 if roberta else 0
    config = ModelConfig(
        kind="encoder", num_layers=size["num_hidden_layers"], d_model=size["hidden_size"],
        num_heads=size["num_attention_heads"], ffn_dim=size["intermediate_size"],
        vocab_size=size["vocab_size"], norm="layer_norm", norm_position="post",
        norm_eps=raw.get("layer_norm_eps", 1e-12), activation=activation,
        positions="learned", max_positions=size["max_position_embeddings"] - first_position,
        type_vocab_size=hf_int(raw, "type_vocab_size", 1 if roberta else 2, minimum=0),
        embedding_norm=True, positions_skip_padding=roberta, pad_token_id=raw.get("pad_token_id"),
    )
    # X-For-Y checkpoints nest the encoder under "bert." / "roberta."; the bare models do not.
    prefix = model_prefix if model_prefix + "embeddings.word_embeddings.weight" in tensors else ""
    src = Source(tensors, prefix)
    E, F = config.d_model, config.ffn_dim
    out = {
        "embed.tokens": src.get("embeddings.word_embeddings.weight", (config.vocab_size, E)),
        "embed.positions": src.get("embeddings.position_embeddings.weight",
                                   (config.max_positions + first_position, E))[first_position:],
        "embed.token_types": src.get("embeddings.token_type_embeddings.weight", (config.type_vocab_size, E)),
        "embed.norm.weight": src.get("embeddings.LayerNorm.weight", (E,)),
        "embed.norm.bias": src.get("embeddings.LayerNorm.bias", (E,)),
    }
    for i in range(config.num_layers):
        layer = f"encoder.layer.{i}."
        ours = f"encoder.{i}."
        attn = layer + "attention."
        out[ours + "attn.qkv.weight"] = np.concatenate(
            [src.get(attn + f"self.{n}.weight", (E, E)) for n in ("query", "key", "value")])
        out[ours + "attn.qkv.bias"] = np.concatenate(
            [src.get(attn + f"self.{n}.bias", (E,)) for n in ("query", "key", "value")])
        out[ours + "attn.out.weight"] = src.get(attn + "output.dense.weight", (E, E))
        out[ours + "attn.out.bias"] = src.get(attn + "output.dense.bias", (E,))
        out[ours + "attn_norm.weight"] = src.get(attn + "output.LayerNorm.weight", (E,))
        out[ours + "attn_norm.bias"] = src.get(attn + "output.LayerNorm.bias", (E,))
        out[ours + "ffn.up.weight"] = src.get(layer + "intermediate.dense.weight", (F, E))
        out[ours + "ffn.up.bias"] = src.get(layer + "intermediate.dense.bias", (F,))
        out[ours + "ffn.down.weight"] = src.get(layer + "output.dense.weight", (E, F))
        out[ours + "ffn.down.bias"] = src.get(layer + "output.dense.bias", (E,))
        out[ours + "ffn_norm.weight"] = src.get(layer + "output.LayerNorm.weight", (E,))
        out[ours + "ffn_norm.bias"] = src.get(layer + "output.LayerNorm.bias", (E,))
    return config, out


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "bert": positions are columns of the padded batch."""
    return _convert(raw, tensors, "bert.", roberta=False)


def convert_roberta(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "roberta", "xlm-roberta", "camembert"."""
    return _convert(raw, tensors, "roberta.", roberta=True)


# DistilBertConfig's defaults, for a field missing from config.json.
DISTILBERT_DEFAULTS = {"vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12,
                       "hidden_dim": 3072, "max_position_embeddings": 512}


def convert_distilbert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "distilbert". Its position table is a tensor of the checkpoint whether it was
    learned or filled with sinusoids (sinusoidal_pos_embds), so both load the same way. Every
    LayerNorm has eps 1e-12 (fixed in transformers, not a config field)."""
    size = {key: hf_int(raw, key, default) for key, default in DISTILBERT_DEFAULTS.items()}
    config = ModelConfig(
        kind="encoder", num_layers=size["n_layers"], d_model=size["dim"],
        num_heads=size["n_heads"], ffn_dim=size["hidden_dim"], vocab_size=size["vocab_size"],
        norm="layer_norm", norm_position="post", norm_eps=1e-12,
        activation=hf_activation(raw, "activation", "gelu"), positions="learned",
        max_positions=size["max_position_embeddings"], embedding_norm=True,
        pad_token_id=raw.get("pad_token_id"),
    )
    prefix = "distilbert." if "distilbert.embeddings.word_embeddings.weight" in tensors else ""
    src = Source(tensors, prefix)
    E, F = config.d_model, config.ffn_dim
    out = {
        "embed.tokens": src.get("embeddings.word_embeddings.weight", (config.vocab_size, E)),
        "embed.positions": src.get("embeddings.position_embeddings.weight", (config.max_positions, E)),
        "embed.norm.weight": src.get("embeddings.LayerNorm.weight", (E,)),
        "embed.norm.bias": src.get("embeddings.LayerNorm.bias", (E,)),
    }
    for i in range(config.num_layers):
        layer, ours = f"transformer.layer.{i}.", f"encoder.{i}."
        attn = layer + "attention."
        for n, (name, rows, cols) in {"attn.out": (attn + "out_lin", E, E),
                                      "ffn.up": (layer + "ffn.lin1", F, E),
                                      "ffn.down": (layer + "ffn.lin2", E, F)}.items():
            out[ours + n + ".weight"] = src.get(name + ".weight", (rows, cols))
            out[ours + n + ".bias"] = src.get(name + ".bias", (rows,))
        for part, shape in (("weight", (E, E)), ("bias", (E,))):
            out[ours + f"attn.qkv.{part}"] = np.concatenate(
                [src.get(attn + f"{n}_lin.{part}", shape) for n in ("q", "k", "v")])
        for ours_norm, theirs in (("attn_norm", "sa_layer_norm"), ("ffn_norm", "output_layer_norm")):
            for part in ("weight", "bias"):
                out[ours + f"{ours_norm}.{part}"] = src.get(layer + f"{theirs}.{part}", (E,))
    return config, out
