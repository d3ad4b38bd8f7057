"""Hugging Face OPT decoders (model_type "opt": OPTModel, OPTForCausalLM; facebook/opt-125m and
up) -> our config and canonical tensors.

OPT is GPT-2's shape with separate q, k, v projections, ReLU and learned positions whose table
starts two rows late (OPTLearnedPositionalEmbedding's offset): we keep the rows from the third
on. A token's position counts the real tokens before it (cumsum of the attention mask), so a
left-padded prompt's first real token is at position 0 (``positions_skip_padding``). The
350m checkpoint's projections between a narrower embedding and the layers
(``word_embed_proj_dim``) are not supported.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_int

# OPTConfig's defaults, used for a field missing from config.json (as transformers does).
OPT_DEFAULTS = {"vocab_size": 50272, "hidden_size": 768, "num_hidden_layers": 12,
                "ffn_dim": 3072, "num_attention_heads": 12, "max_position_embeddings": 2048}
POSITION_OFFSET = 2  # rows of the position table before position 0


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    size = {key: hf_int(raw, key, default) for key, default in OPT_DEFAULTS.items()}
    E, F, V = size["hidden_size"], size["ffn_dim"], size["vocab_size"]
    projected = raw.get("word_embed_proj_dim")
    if projected not in (None, E):
        raise ValueError(f"config.json: word_embed_proj_dim={projected} differs from hidden_size="
                         f"{E} (opt-350m's projections); not supported")
    pre_norm = raw.get("do_layer_norm_before", True) is not False
    bias = raw.get("enable_bias", True) is not False
    affine = raw.get("layer_norm_elementwise_affine", True) is not False
    config = ModelConfig(
        kind="decoder", num_layers=size["num_hidden_layers"], d_model=E,
        num_heads=size["num_attention_heads"], ffn_dim=F, vocab_size=V, norm="layer_norm",
        norm_position="pre" if pre_norm else "post", norm_eps=1e-5,
        activation=hf_activation(raw, "activation_function", "relu"), positions="learned",
        max_positions=size["max_position_embeddings"], positions_skip_padding=True,
        final_norm=pre_norm and not raw.get("_remove_final_layer_norm", False),
        attention_bias=bias, ffn_bias=bias,
        tie_word_embeddings=raw.get("tie_word_embeddings", True) is not False,
        pad_token_id=raw.get("pad_token_id", 1))
    src = Source(tensors, "model.decoder." if "model.decoder.embed_tokens.weight" in tensors
                 else "decoder.")

    def norm(name: str, ours: str) -> Tensors:
        if not affine:  # nn.LayerNorm(elementwise_affine=False): gain 1, no shift
            return {ours + ".weight": np.ones(E, np.float32), ours + ".bias": np.zeros(E, np.float32)}
        return {ours + ".weight": src.get(name + ".weight", (E,)),
                ours + ".bias": src.get(name + ".bias", (E,))}

    def linear(names, ours: str, rows: int, cols: int) -> Tensors:
        out = {ours + ".weight": np.concatenate([src.get(n + ".weight", (rows, cols)) for n in names])}
        if bias:
            out[ours + ".bias"] = np.concatenate([src.get(n + ".bias", (rows,)) for n in names])
        return out

    P = config.max_positions
    out = {
        "embed.tokens": src.get("embed_tokens.weight", (V, E)),
        "embed.positions": src.get("embed_positions.weight", (P + POSITION_OFFSET, E))[POSITION_OFFSET:],
    }
    if config.final_norm:
        out.update(norm("final_layer_norm", "decoder.final_norm"))
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = Source(tensors).get("lm_head.weight", (V, E))
    for i in range(config.num_layers):
        layer, ours = f"layers.{i}.", f"decoder.{i}."
        attn = layer + "self_attn."
        out.update(linear([attn + p + "_proj" for p in "qkv"], ours + "self_attn.qkv", E, E))
        out.update(linear([attn + "out_proj"], ours + "self_attn.out", E, E))
        out.update(norm(layer + "self_attn_layer_norm", ours + "self_attn_norm"))
        out.update(linear([layer + "fc1"], ours + "ffn.up", F, E))
        out.update(linear([layer + "fc2"], ours + "ffn.down", E, F))
        out.update(norm(layer + "final_layer_norm", ours + "ffn_norm"))
    return config, out
