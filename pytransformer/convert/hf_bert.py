"""Hugging Face BERT-family encoders -> our config and canonical tensors: model_type "bert"
(BertModel, BertFor*, MiniLM, sentence-transformers checkpoints) and the RoBERTa layout,
"roberta", "xlm-roberta" and "camembert" (the same layers; positions counted over the real
tokens only, starting after the padding id, and one token type), "distilbert" (BERT's
post-LN layer under other names, no token types) and "mpnet" (the RoBERTa layout without token
types, plus T5's relative position bias in every attention: all-mpnet-base-v2). A
*ForSequenceClassification checkpoint (sentiment models, cross-encoder rerankers) brings its
classification head along (Encoder.classify)."""

from __future__ import annotations

import dataclasses
from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_int

# BertConfig's defaults, used for a field missing from config.json (as transformers does).
BERT_DEFAULTS = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "intermediate_size": 3072,
                 "max_position_embeddings": 512}


# Where each layout keeps a layer's tensors (under its layer prefix), by our canonical name.
# The embeddings are named alike in both: word, position and (BERT) token type tables and a
# LayerNorm under "embeddings.".
BERT_LAYER = {"q": "attention.self.query", "k": "attention.self.key",
              "v": "attention.self.value", "attn.out": "attention.output.dense",
              "attn_norm": "attention.output.LayerNorm", "ffn.up": "intermediate.dense",
              "ffn.down": "output.dense", "ffn_norm": "output.LayerNorm"}
MPNET_LAYER = {"q": "attention.attn.q", "k": "attention.attn.k", "v": "attention.attn.v",
               "attn.out": "attention.attn.o", "attn_norm": "attention.LayerNorm",
               "ffn.up": "intermediate.dense", "ffn.down": "output.dense",
               "ffn_norm": "output.LayerNorm"}
DISTILBERT_LAYER = {"q": "attention.q_lin", "k": "attention.k_lin", "v": "attention.v_lin",
                    "attn.out": "attention.out_lin", "attn_norm": "sa_layer_norm",
                    "ffn.up": "ffn.lin1", "ffn.down": "ffn.lin2", "ffn_norm": "output_layer_norm"}


def _tensors(config: ModelConfig, src: Source, layer_prefix: str, names: dict,
             first_position: int = 0) -> Tensors:
    """Our canonical tensors of a BERT-shaped encoder: layer i's tensors are under
    layer_prefix.format(i) with the names of ``names``; the position table's rows before
    ``first_position`` are dropped (see _convert)."""
    E, F = config.d_model, config.ffn_dim
    out = {
        "embed.tokens": src.get("embeddings.word_embeddings.weight", (config.vocab_size, E)),
        "embed.positions": src.get("embeddings.position_embeddings.weight",
                                   (config.max_positions + first_position, E))[first_position:],
        "embed.norm.weight": src.get("embeddings.LayerNorm.weight", (E,)),
        "embed.norm.bias": src.get("embeddings.LayerNorm.bias", (E,)),
    }
    if config.type_vocab_size:
        out["embed.token_types"] = src.get("embeddings.token_type_embeddings.weight",
                                           (config.type_vocab_size, E))
    # A weight's shape; its bias (and a LayerNorm's weight and bias) is the first axis of it.
    shapes = {"q": (E, E), "k": (E, E), "v": (E, E), "attn.out": (E, E), "ffn.up": (F, E),
              "ffn.down": (E, F), "attn_norm": (E,), "ffn_norm": (E,)}
    for i in range(config.num_layers):
        layer, ours = layer_prefix.format(i), f"encoder.{i}."
        for part in ("weight", "bias"):
            got = {n: src.get(f"{layer}{names[n]}.{part}", shape if part == "weight" else shape[:1])
                   for n, shape in shapes.items()}
            out[f"{ours}attn.qkv.{part}"] = np.concatenate([got.pop(n) for n in ("q", "k", "v")])
            out.update({f"{ours}{n}.{part}": array for n, array in got.items()})
    return out


# Where each *ForSequenceClassification keeps its head: (dense, out) module names from the
# checkpoint's root, and the activation between them.
BERT_HEAD = ("bert.pooler.dense", "classifier", "tanh")
ROBERTA_HEAD = ("classifier.dense", "classifier.out_proj", "tanh")  # also MPNet's
DISTILBERT_HEAD = ("pre_classifier", "classifier", "relu")


def _with_head(config: ModelConfig, tensors: Tensors, out: Tensors,
               head: Tuple[str, str, str]) -> Tuple[ModelConfig, Tensors]:
    """config and out with the checkpoint's sequence classification head, when it has one
    (its out module's weight is present): num_labels from that weight's rows."""
    dense, final, activation = head
    root = Source(tensors)
    if not root.has(final + ".weight"):
        return config, out
    E = config.d_model
    labels = np.shape(tensors[final + ".weight"])[0]
    out["classifier.dense.weight"] = root.get(dense + ".weight", (E, E))
    out["classifier.dense.bias"] = root.get(dense + ".bias", (E,))
    out["classifier.out.weight"] = root.get(final + ".weight", (labels, E))
    out["classifier.out.bias"] = root.get(final + ".bias", (labels,))
    return dataclasses.replace(config, num_labels=labels, classifier_activation=activation), out


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
    out = _tensors(config, Source(tensors, prefix), "encoder.layer.{}.", BERT_LAYER, first_position)
    return _with_head(config, tensors, out, ROBERTA_HEAD if roberta else BERT_HEAD)


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "bert": positions are columns of the padded batch."""
    return _convert(raw, tensors, "bert.", roberta=False)


def convert_roberta(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "roberta", "xlm-roberta", "camembert"."""
    return _convert(raw, tensors, "roberta.", roberta=True)


# MPNetConfig's defaults, for a field missing from config.json.
MPNET_DEFAULTS = {"vocab_size": 30527, "hidden_size": 768, "num_hidden_layers": 12,
                  "num_attention_heads": 12, "intermediate_size": 3072,
                  "max_position_embeddings": 514}
# MPNetEncoder.compute_position_bias buckets with these whatever the config says.
MPNET_BUCKETS, MPNET_MAX_DISTANCE = 32, 128


def convert_mpnet(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "mpnet" (MPNetModel, MPNetFor*, all-mpnet-base-v2): positions as RoBERTa's
    from padding index 1 (fixed in MPNetEmbeddings), no token types, and every attention adding
    the encoder's relative position bias, by the buckets of the distance between columns (so a
    right-padded or unpadded batch, which is what sentence-transformers feeds it)."""
    size = {key: hf_int(raw, key, default) for key, default in MPNET_DEFAULTS.items()}
    H = size["num_attention_heads"]
    buckets = hf_int(raw, "relative_attention_num_buckets", MPNET_BUCKETS)
    if buckets != MPNET_BUCKETS:
        raise ValueError(f"config.json: relative_attention_num_buckets={buckets} is not supported; "
                         f"supported: {MPNET_BUCKETS} (what MPNet's bucketing uses)")
    first_position = 2  # padding index 1, then the first real token
    config = ModelConfig(
        kind="encoder", num_layers=size["num_hidden_layers"], d_model=size["hidden_size"],
        num_heads=H, ffn_dim=size["intermediate_size"], vocab_size=size["vocab_size"],
        norm="layer_norm", norm_position="post", norm_eps=raw.get("layer_norm_eps", 1e-12),
        activation=hf_activation(raw, "hidden_act", "gelu"), positions="learned",
        max_positions=size["max_position_embeddings"] - first_position, embedding_norm=True,
        positions_skip_padding=True, relative_position_bias=True, relative_buckets=buckets,
        relative_max_distance=MPNET_MAX_DISTANCE, pad_token_id=raw.get("pad_token_id"),
    )
    src = Source(tensors, "mpnet." if "mpnet.embeddings.word_embeddings.weight" in tensors else "")
    out = _tensors(config, src, "encoder.layer.{}.", MPNET_LAYER, first_position)
    out["encoder.relative_bias"] = src.get("encoder.relative_attention_bias.weight", (buckets, H))
    return _with_head(config, tensors, out, ROBERTA_HEAD)


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
    out = _tensors(config, Source(tensors, prefix), "transformer.layer.{}.", DISTILBERT_LAYER)
    return _with_head(config, tensors, out, DISTILBERT_HEAD)
