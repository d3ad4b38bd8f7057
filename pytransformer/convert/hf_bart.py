"""Hugging Face BART and mBART encoder-decoders (model_type "bart": BartModel,
BartForConditionalGeneration; "mbart": MBartModel, MBartForConditionalGeneration) -> our config
and canonical tensors.

transformers runs the same layers for both; the class alone decides where the norms sit:

- BART is post-LN, ``LN(h + f(h))``, with a LayerNorm right after the embeddings
  (``layernorm_embedding``) and no final norm.
- mBART is pre-LN, ``h + f(LN(h))``, with the same embedding LayerNorm plus a LayerNorm after
  each stack (``encoder.layer_norm``, ``decoder.layer_norm``).

config.json files converted from fairseq under transformers 3 still carry ``normalize_before``,
``add_final_layer_norm`` and ``normalize_embedding``; transformers 4 and later ignore them (a
"bart" is always post-LN, pre-LN ones are model_type "mbart"), and so do we, because transformers'
outputs are what a converted checkpoint must reproduce.

Both use learned positions that transformers reads with an offset of 2
(BartLearnedPositionalEmbedding looks up row ``p + 2`` for position ``p``, a leftover of
fairseq's padding-aware positions): we keep rows 2.. so that our position p reads it. One
table per stack; token embeddings multiplied by sqrt(d_model) when ``scale_embedding``; and a
``final_logits_bias`` added to the logits. Every LayerNorm is a default ``nn.LayerNorm`` (eps 1e-5).

Marian runs BART's layer code too (transformers copies it), so hf_marian reuses the helpers here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_int

# transformers fills a field missing from config.json with its class default; so do we.
BART_DEFAULTS = {
    "vocab_size": 50265, "max_position_embeddings": 1024, "d_model": 1024,
    "encoder_layers": 12, "decoder_layers": 12, "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
    "encoder_attention_heads": 16, "decoder_attention_heads": 16, "activation_function": "gelu",
    "scale_embedding": False, "pad_token_id": 1, "tie_word_embeddings": True,
}
POSITION_OFFSET = 2


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "bart": post-LN, no final norms."""
    return _convert(raw, tensors, mbart=False)


def convert_mbart(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "mbart": pre-LN, a final LayerNorm after the encoder and after the decoder."""
    return _convert(raw, tensors, mbart=True)


def _convert(raw: dict, tensors: Tensors, mbart: bool) -> Tuple[ModelConfig, Tensors]:
    config = seq2seq_config(raw, BART_DEFAULTS, norm_position="pre" if mbart else "post",
                            embedding_norm=True, final_norm=mbart)
    src = model_source(tensors)
    P, E = config.max_positions, config.d_model
    out: Tensors = {}
    for stack, embed in (("encoder", "embed"), ("decoder", "decoder_embed")):
        table = src.get(f"{stack}.embed_positions.weight", (P + POSITION_OFFSET, E))
        out[f"{embed}.positions"] = table[POSITION_OFFSET:]
        out.update(_norm(src, f"{stack}.layernorm_embedding", f"{embed}.norm", E))
        if mbart:
            out.update(_norm(src, f"{stack}.layer_norm", f"{stack}.final_norm", E))
    return complete(config, tensors, src, out)


def seq2seq_config(raw: dict, defaults: Dict[str, object], **choices) -> ModelConfig:
    """The ModelConfig fields that every config.json of the BART family (BART, mBART, Marian)
    sets the same way; ``choices`` are the ones the model type decides."""
    def get(key: str):
        return raw.get(key, defaults[key])

    def size(key: str) -> int:
        return hf_int(raw, key, defaults[key])

    # Our layers take one width for both stacks; no released checkpoint of these families has two.
    for enc, dec in (("encoder_attention_heads", "decoder_attention_heads"),
                     ("encoder_ffn_dim", "decoder_ffn_dim")):
        if size(enc) != size(dec):
            raise ValueError(f"config.json: {enc}={size(enc)} differs from {dec}={size(dec)}; "
                             "encoder and decoder layers of different widths are not supported")
    d_model = size("d_model")
    decoder_layers = size("decoder_layers")
    return ModelConfig(
        kind="encoder-decoder", num_layers=size("encoder_layers"),
        num_decoder_layers=decoder_layers if decoder_layers != size("encoder_layers") else None,
        d_model=d_model, num_heads=size("encoder_attention_heads"), ffn_dim=size("encoder_ffn_dim"),
        vocab_size=size("vocab_size"), norm="layer_norm", norm_eps=1e-5,
        activation=hf_activation(raw, "activation_function", defaults["activation_function"]),
        positions="learned", max_positions=size("max_position_embeddings"),
        embedding_scale=math.sqrt(d_model) if get("scale_embedding") else 1.0,
        tie_word_embeddings=get("tie_word_embeddings"), pad_token_id=get("pad_token_id"), **choices)


def model_source(tensors: Tensors) -> Source:
    """*ForConditionalGeneration checkpoints nest the model under "model."; *Model ones do not."""
    return Source(tensors, "model." if any(k.startswith("model.") for k in tensors) else "")


def complete(config: ModelConfig, tensors: Tensors, src: Source,
             out: Tensors) -> Tuple[ModelConfig, Tensors]:
    """Add what the BART family names alike (token tables, layers, output projection) to the
    model-specific tensors ``out`` and record in the config which optional ones were found."""
    out.update(_token_tables(src, config))
    out.update(layer_tensors(src, config))
    V = config.vocab_size
    root = Source(tensors)
    decoder_tokens = out.get("decoder_embed.tokens", out["embed.tokens"])
    if not config.tie_word_embeddings:
        head = root.get("lm_head.weight", (V, config.d_model))
        if not np.array_equal(head, decoder_tokens):  # untied in name only: keep one copy
            out["lm_head.weight"] = head
    # Absent in *Model checkpoints; transformers then uses zeros, as no bias does.
    if root.has("final_logits_bias"):
        out["lm_head.bias"] = root.get("final_logits_bias", (1, V)).reshape(V)
    return dataclasses.replace(config, tie_word_embeddings="lm_head.weight" not in out,
                               final_logits_bias="lm_head.bias" in out), out


def _token_tables(src: Source, config: ModelConfig) -> Tensors:
    """Encoder and decoder token embeddings. Which names a checkpoint holds varies: tied ones
    saved by transformers 5 have only ``shared.weight``, older versions also saved the stacks'
    copies, and untied ones (Marian's share_encoder_decoder_embeddings=false, or
    tie_word_embeddings=false in transformers 5) have per-stack tables that may differ from
    ``shared``. Each stack reads its own ``embed_tokens``, so that one wins."""
    shape = (config.vocab_size, config.d_model)

    def table(stack: str) -> np.ndarray:
        own = f"{stack}.embed_tokens.weight"
        return src.get(own if src.has(own) else "shared.weight", shape)

    out = {"embed.tokens": table("encoder")}
    decoder = table("decoder")
    if not np.array_equal(decoder, out["embed.tokens"]):  # the decoder falls back to embed.*
        out["decoder_embed.tokens"] = decoder
    return out


def layer_tensors(src: Source, config: ModelConfig) -> Tensors:
    """Encoder and decoder layers: BartEncoderLayer / BartDecoderLayer names (shared by mBART
    and Marian) -> ours. Q, K and V are stacked for one fused GEMM; cross-attention K and V too."""
    E, F = config.d_model, config.ffn_dim
    out: Tensors = {}
    decoder_layers = config.num_decoder_layers or config.num_layers
    for stack, count in (("encoder", config.num_layers), ("decoder", decoder_layers)):
        for i in range(count):
            hf, ours = f"{stack}.layers.{i}.", f"{stack}.{i}."
            attn = ours + ("attn" if stack == "encoder" else "self_attn")
            out.update(_linear(src, _proj(hf + "self_attn", "q", "k", "v"), attn + ".qkv", E, E))
            out.update(_linear(src, _proj(hf + "self_attn", "out"), attn + ".out", E, E))
            out.update(_norm(src, hf + "self_attn_layer_norm", attn + "_norm", E))
            if stack == "decoder":
                cross = ours + "cross_attn"
                out.update(_linear(src, _proj(hf + "encoder_attn", "q"), cross + ".q", E, E))
                out.update(_linear(src, _proj(hf + "encoder_attn", "k", "v"), cross + ".kv", E, E))
                out.update(_linear(src, _proj(hf + "encoder_attn", "out"), cross + ".out", E, E))
                out.update(_norm(src, hf + "encoder_attn_layer_norm", cross + "_norm", E))
            out.update(_linear(src, [hf + "fc1"], ours + "ffn.up", F, E))
            out.update(_linear(src, [hf + "fc2"], ours + "ffn.down", E, F))
            out.update(_norm(src, hf + "final_layer_norm", ours + "ffn_norm", E))
    return out


def _proj(module: str, *names: str):
    """The names of a BartAttention's projections, e.g. ``{module}.q_proj``."""
    return [f"{module}.{n}_proj" for n in names]


def _linear(src: Source, names, ours: str, rows: int, cols: int) -> Tensors:
    """nn.Linear weights [rows, cols] and biases of ``names``, stacked by rows into one of ours."""
    return {ours + ".weight": np.concatenate([src.get(n + ".weight", (rows, cols)) for n in names]),
            ours + ".bias": np.concatenate([src.get(n + ".bias", (rows,)) for n in names])}


def _norm(src: Source, name: str, ours: str, dim: int) -> Tensors:
    return {ours + ".weight": src.get(name + ".weight", (dim,)),
            ours + ".bias": src.get(name + ".bias", (dim,))}
