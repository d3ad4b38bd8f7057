"""Hugging Face LLaMA (model_type "llama": LlamaModel, LlamaForCausalLM) -> our config and
canonical tensors. LLaMA is a pre-RMSNorm decoder with rotary positions (rotate-half layout),
grouped-query attention, a SwiGLU feed-forward and no biases by default."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_int

# LlamaConfig's defaults, used for a field missing from config.json (as transformers does).
LLAMA_DEFAULTS = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                  "num_hidden_layers": 32, "num_attention_heads": 32,
                  "max_position_embeddings": 2048}


def _rope_theta(raw: dict) -> float:
    # transformers 5 moved rope_theta / rope_scaling into "rope_parameters".
    params = raw.get("rope_parameters") or {}
    scaling = raw.get("rope_scaling") or {}
    for source in (params, scaling):
        kind = source.get("rope_type", source.get("type", "default"))
        if kind not in ("default", None):
            raise ValueError(f"config.json: rope scaling {kind!r} is not supported; supported: default")
    return float(params.get("rope_theta", raw.get("rope_theta", 10000.0)))


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    act = raw.get("hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"config.json: hidden_act {act!r} is not supported; supported: silu")
    size = {key: hf_int(raw, key, default) for key, default in LLAMA_DEFAULTS.items()}
    E, H, F = size["hidden_size"], size["num_attention_heads"], size["intermediate_size"]
    Hkv = hf_int(raw, "num_key_value_heads", H)
    head_dim = hf_int(raw, "head_dim", E // H)
    if head_dim * H != E:
        raise ValueError(f"config.json: head_dim={head_dim} with {H} heads != hidden_size={E} "
                         "is not supported")
    attention_bias = bool(raw.get("attention_bias", False))
    mlp_bias = bool(raw.get("mlp_bias", False))
    config = ModelConfig(
        kind="decoder", num_layers=size["num_hidden_layers"], d_model=E, num_heads=H,
        num_kv_heads=Hkv, ffn_dim=F, vocab_size=size["vocab_size"], norm="rms_norm",
        norm_position="pre", norm_eps=raw.get("rms_norm_eps", 1e-6), activation="swiglu",
        positions="rotary", max_positions=size["max_position_embeddings"],
        rope_base=_rope_theta(raw), final_norm=True, attention_bias=attention_bias,
        ffn_bias=mlp_bias, tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        pad_token_id=raw.get("pad_token_id"),
    )
    src = Source(tensors, "model." if "model.embed_tokens.weight" in tensors else "")
    D = head_dim
    out = {
        "embed.tokens": src.get("embed_tokens.weight", (config.vocab_size, E)),
        "decoder.final_norm.weight": src.get("norm.weight", (E,)),
    }
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = Source(tensors).get("lm_head.weight", (config.vocab_size, E))
    for i in range(config.num_layers):
        layer, ours = f"layers.{i}.", f"decoder.{i}."
        attn = layer + "self_attn."
        qkv_shapes = (("q_proj", H * D), ("k_proj", Hkv * D), ("v_proj", Hkv * D))
        out[ours + "self_attn.qkv.weight"] = np.concatenate(
            [src.get(attn + name + ".weight", (rows, E)) for name, rows in qkv_shapes])
        out[ours + "self_attn.out.weight"] = src.get(attn + "o_proj.weight", (E, E))
        if attention_bias:
            out[ours + "self_attn.qkv.bias"] = np.concatenate(
                [src.get(attn + name + ".bias", (rows,)) for name, rows in qkv_shapes])
            out[ours + "self_attn.out.bias"] = src.get(attn + "o_proj.bias", (E,))
        for name, shape in (("gate", (F, E)), ("up", (F, E)), ("down", (E, F))):
            out[ours + f"ffn.{name}.weight"] = src.get(layer + f"mlp.{name}_proj.weight", shape)
            if mlp_bias:
                out[ours + f"ffn.{name}.bias"] = src.get(layer + f"mlp.{name}_proj.bias", (shape[0],))
        out[ours + "self_attn_norm.weight"] = src.get(layer + "input_layernorm.weight", (E,))
        out[ours + "ffn_norm.weight"] = src.get(layer + "post_attention_layernorm.weight", (E,))
    return config, out
