"""Hugging Face GPT-NeoX decoders (model_type "gpt_neox": GPTNeoXForCausalLM; the Pythia suite,
GPT-NeoX-20B) -> our config and canonical tensors.

Pre-LayerNorm layers whose attention and feed-forward both read the layer's input when
use_parallel_residual is set (the default): x + attn(ln1(x)) + mlp(ln2(x)). Rotary positions
on the first rotary_pct of each head's features only (Pythia: a quarter). The fused
query_key_value projection holds, per head, that head's q, k and v rows side by side
([H, 3, D] rows); ours stacks all the q rows, then k, then v, so its rows are regrouped at load.
The output projection is untied (lm_head, embed_out before transformers 5).
"""

from __future__ import annotations

from typing import Tuple

from ..config import ModelConfig
from ._common import (Source, Tensors, hf_activation, hf_head_dim, hf_int, hf_rope, layer_norm,
                      linear, stack_qkv_by_kind)

# GPTNeoXConfig's defaults, used for a field missing from config.json (as transformers does).
NEOX_DEFAULTS = {"vocab_size": 50432, "hidden_size": 6144, "num_hidden_layers": 44,
                 "num_attention_heads": 64, "intermediate_size": 24576,
                 "max_position_embeddings": 2048}


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    size = {key: hf_int(raw, key, default) for key, default in NEOX_DEFAULTS.items()}
    E, H, F, V = (size["hidden_size"], size["num_attention_heads"], size["intermediate_size"],
                  size["vocab_size"])
    D = hf_head_dim(E, H, "hidden_size", "num_attention_heads")
    rope_base, rotary_dim = hf_rope(raw, D, 0.25, fraction_field="rotary_pct",
                                    base_field="rotary_emb_base")
    bias = raw.get("attention_bias", True) is not False
    config = ModelConfig(
        kind="decoder", num_layers=size["num_hidden_layers"], d_model=E, num_heads=H, ffn_dim=F,
        vocab_size=V, norm="layer_norm", norm_position="pre",
        norm_eps=raw.get("layer_norm_eps", 1e-5),
        activation=hf_activation(raw, "hidden_act", "gelu"),
        positions="rotary", max_positions=size["max_position_embeddings"], rope_base=rope_base,
        rotary_dim=rotary_dim, final_norm=True, attention_bias=bias, ffn_bias=True,
        tie_word_embeddings=raw.get("tie_word_embeddings", False) is True,
        parallel_residual=raw.get("use_parallel_residual", True) is not False,
        pad_token_id=raw.get("pad_token_id"))
    src = Source(tensors, "gpt_neox.")

    out = {"embed.tokens": src.get("embed_in.weight", (V, E))}
    out.update(layer_norm(src, "final_layer_norm", "decoder.final_norm", E))
    if not config.tie_word_embeddings:
        root = Source(tensors)
        head = "lm_head.weight" if root.has("lm_head.weight") else "embed_out.weight"
        out["lm_head.weight"] = root.get(head, (V, E))
    for i in range(config.num_layers):
        layer, ours = f"layers.{i}.", f"decoder.{i}."
        qkv = linear(src, layer + "attention.query_key_value", ours + "self_attn.qkv", 3 * E, E,
                     bias)
        out.update({name: stack_qkv_by_kind(rows, H, D) for name, rows in qkv.items()})
        out.update(linear(src, layer + "attention.dense", ours + "self_attn.out", E, E, bias))
        out.update(layer_norm(src, layer + "input_layernorm", ours + "self_attn_norm", E))
        out.update(linear(src, layer + "mlp.dense_h_to_4h", ours + "ffn.up", F, E))
        out.update(linear(src, layer + "mlp.dense_4h_to_h", ours + "ffn.down", E, F))
        out.update(layer_norm(src, layer + "post_attention_layernorm", ours + "ffn_norm", E))
    return config, out
