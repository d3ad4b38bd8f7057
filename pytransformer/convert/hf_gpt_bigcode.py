"""Hugging Face GPT-BigCode decoders (model_type "gpt_bigcode": GPTBigCodeForCausalLM;
SantaCoder, StarCoder, StarCoderBase and tiny_starcoder) -> our config and canonical tensors.

GPT-2's layer (pre-LN, learned positions, tanh GELU, tied head) with multi-query attention:
every query head shares one key head and one value head (our grouped-query attention with one
kv head), which is what makes its KV cache small. Unlike GPT-2 its projections are nn.Linear
([out, in]). The fused c_attn holds the queries, the key head and the value head stacked, as
ours; without multi_query it holds each head's q, k and v rows side by side ([H, 3, D]), which
are regrouped at load.
"""

from __future__ import annotations

from typing import Tuple

from ..config import ModelConfig
from ._common import (Source, Tensors, hf_activation, hf_head_dim, hf_int, layer_norm, linear,
                      stack_qkv_by_kind)

# GPTBigCodeConfig's defaults, used for a field missing from config.json (as transformers does).
BIGCODE_DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
                    "n_head": 12}


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    if raw.get("add_cross_attention"):
        raise ValueError("config.json: add_cross_attention=True is not supported")
    if raw.get("scale_attn_weights", True) is False:
        raise ValueError("config.json: scale_attn_weights=False is not supported")
    size = {key: hf_int(raw, key, default) for key, default in BIGCODE_DEFAULTS.items()}
    E, H, V, P = size["n_embd"], size["n_head"], size["vocab_size"], size["n_positions"]
    F = hf_int(raw, "n_inner", 4 * E)
    D = hf_head_dim(E, H, "n_embd", "n_head")
    multi_query = raw.get("multi_query", True) is not False
    Hkv = 1 if multi_query else H
    config = ModelConfig(
        kind="decoder", num_layers=size["n_layer"], d_model=E, num_heads=H, num_kv_heads=Hkv,
        ffn_dim=F, vocab_size=V, norm="layer_norm", norm_position="pre",
        norm_eps=raw.get("layer_norm_epsilon", 1e-5),
        activation=hf_activation(raw, "activation_function", "gelu_pytorch_tanh"),
        positions="learned", max_positions=P, final_norm=True,
        tie_word_embeddings=raw.get("tie_word_embeddings", True) is not False,
        pad_token_id=raw.get("pad_token_id"))
    src = Source(tensors, "transformer.")

    out = {"embed.tokens": src.get("wte.weight", (V, E)),
           "embed.positions": src.get("wpe.weight", (P, E))}
    out.update(layer_norm(src, "ln_f", "decoder.final_norm", E))
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = Source(tensors).get("lm_head.weight", (V, E))
    for i in range(config.num_layers):
        layer, ours = f"h.{i}.", f"decoder.{i}."
        qkv = linear(src, layer + "attn.c_attn", ours + "self_attn.qkv", E + 2 * Hkv * D, E)
        if not multi_query:
            qkv = {name: stack_qkv_by_kind(rows, H, D) for name, rows in qkv.items()}
        out.update(qkv)
        out.update(linear(src, layer + "attn.c_proj", ours + "self_attn.out", E, E))
        out.update(linear(src, layer + "mlp.c_fc", ours + "ffn.up", F, E))
        out.update(linear(src, layer + "mlp.c_proj", ours + "ffn.down", E, F))
        out.update(layer_norm(src, layer + "ln_1", ours + "self_attn_norm", E))
        out.update(layer_norm(src, layer + "ln_2", ours + "ffn_norm", E))
    return config, out
