"""Hugging Face Phi decoders (model_type "phi": PhiForCausalLM; microsoft/phi-1, phi-1_5, phi-2)
-> our config and canonical tensors.

Each layer normalises its input once and feeds it to both the attention and the feed-forward,
whose outputs add to the input: x + attn(ln(x)) + mlp(ln(x)). That is our parallel residual with
the two norms equal, so the one LayerNorm is written as both. Rotary positions on the first
partial_rotary_factor of each head's features (Phi-2: 32 of 80), separate q, k and v
projections (fused at load), tanh GELU, and an untied output projection with a bias (our final
logits bias). Phi's optional per-head LayerNorms of q and k (qk_layernorm) are not supported.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import (Source, Tensors, hf_activation, hf_head_dim, hf_int, hf_rope, layer_norm,
                      linear)

# PhiConfig's defaults, used for a field missing from config.json (as transformers does).
PHI_DEFAULTS = {"vocab_size": 51200, "hidden_size": 2048, "intermediate_size": 8192,
                "num_hidden_layers": 24, "num_attention_heads": 32,
                "max_position_embeddings": 2048}


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    size = {key: hf_int(raw, key, default) for key, default in PHI_DEFAULTS.items()}
    E, H, F, V = (size["hidden_size"], size["num_attention_heads"], size["intermediate_size"],
                  size["vocab_size"])
    if raw.get("qk_layernorm"):
        raise ValueError("config.json: qk_layernorm is not supported; supported: false")
    Hkv = hf_int(raw, "num_key_value_heads", H)
    D = hf_head_dim(E, H, "hidden_size", "num_attention_heads")
    rope_base, rotary_dim = hf_rope(raw, D, 0.5)
    config = ModelConfig(
        kind="decoder", num_layers=size["num_hidden_layers"], d_model=E, num_heads=H,
        num_kv_heads=Hkv, ffn_dim=F, vocab_size=V, norm="layer_norm", norm_position="pre",
        norm_eps=raw.get("layer_norm_eps", 1e-5),
        activation=hf_activation(raw, "hidden_act", "gelu_new"), positions="rotary",
        max_positions=size["max_position_embeddings"], rope_base=rope_base,
        rotary_dim=rotary_dim, final_norm=True, attention_bias=True, ffn_bias=True,
        tie_word_embeddings=raw.get("tie_word_embeddings", False) is True,
        final_logits_bias=True,
        parallel_residual=True, pad_token_id=raw.get("pad_token_id"))
    src = Source(tensors, "model.")

    def stacked_linear(names, ours: str, rows, cols: int) -> Tensors:  # q, k, v as one
        return {ours + ".weight": np.concatenate([src.get(n + ".weight", (r, cols))
                                                  for n, r in zip(names, rows)]),
                ours + ".bias": np.concatenate([src.get(n + ".bias", (r,))
                                                for n, r in zip(names, rows)])}

    out = {"embed.tokens": src.get("embed_tokens.weight", (V, E))}
    out.update(layer_norm(src, "final_layernorm", "decoder.final_norm", E))
    root = Source(tensors)
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = root.get("lm_head.weight", (V, E))
    out["lm_head.bias"] = root.get("lm_head.bias", (V,))  # PhiForCausalLM's head has one
    for i in range(config.num_layers):
        layer, ours = f"layers.{i}.", f"decoder.{i}."
        attn = layer + "self_attn."
        out.update(stacked_linear([attn + p + "_proj" for p in "qkv"], ours + "self_attn.qkv",
                                  [H * D, Hkv * D, Hkv * D], E))
        out.update(linear(src, attn + "dense", ours + "self_attn.out", E, H * D))
        out.update(linear(src, layer + "mlp.fc1", ours + "ffn.up", F, E))
        out.update(linear(src, layer + "mlp.fc2", ours + "ffn.down", E, F))
        # One LayerNorm feeds both blocks: ours normalises twice with the same weights.
        out.update(layer_norm(src, layer + "input_layernorm", ours + "self_attn_norm", E))
        out.update(layer_norm(src, layer + "input_layernorm", ours + "ffn_norm", E))
    return config, out
