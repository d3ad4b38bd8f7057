"""Hugging Face GPT-J decoders (model_type "gptj": GPTJForCausalLM; EleutherAI/gpt-j-6b) -> our
config and canonical tensors.

GPT-J's layer is Phi's: one LayerNorm feeding attention and feed-forward side by side,
x + attn(ln(x)) + mlp(ln(x)) (our parallel residual, the norm written as both), a tanh GELU, no
attention biases, and an untied head with a bias. Its rotary positions rotate the first
rotary_dim features of each head in adjacent pairs (2i, 2i + 1) ("rotate every two"), where
ours pairs i with i + rotary_dim / 2 (rotate half), both at angle position * base^(-2i /
rotary_dim). Reordering each head's first rotary_dim query and key rows as (0, 2, 4, ..., 1, 3,
5, ...) turns one into the other: pair i lands on features (i, i + rotary_dim / 2) with its own
angle, and since q and k are reordered alike, every q . k, and so the attention, is unchanged.
Only the keys in the KV cache are held in that order.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_head_dim, hf_int, layer_norm

# GPTJConfig's defaults, used for a field missing from config.json (as transformers does).
GPTJ_DEFAULTS = {"vocab_size": 50400, "n_embd": 4096, "n_layer": 28, "n_head": 16,
                 "n_positions": 2048}


def rotate_half_order(head_dim: int, rotary_dim: int) -> np.ndarray:
    """The feature order that makes rotate-half rotary positions act as rotate-every-two on the
    first rotary_dim features of a head: the even ones, then the odd ones, then the rest."""
    return np.concatenate([np.arange(0, rotary_dim, 2), np.arange(1, rotary_dim, 2),
                           np.arange(rotary_dim, head_dim)])


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    size = {key: hf_int(raw, key, default) for key, default in GPTJ_DEFAULTS.items()}
    E, H, V = size["n_embd"], size["n_head"], size["vocab_size"]
    F = hf_int(raw, "n_inner", 4 * E)
    D = hf_head_dim(E, H, "n_embd", "n_head")
    # GPTJConfig's default is 64; null makes GPTJAttention build its angles over hidden_size,
    # which fits a head only when there is one.
    rotary_dim = E if raw.get("rotary_dim", 64) is None else hf_int(raw, "rotary_dim", 64)
    if rotary_dim > D or rotary_dim % 2:
        raise ValueError(f"config.json: rotary_dim {raw.get('rotary_dim', 64)} rotates "
                         f"{rotary_dim} features; expected an even number up to the head's {D}")
    config = ModelConfig(
        kind="decoder", num_layers=size["n_layer"], d_model=E, num_heads=H, ffn_dim=F,
        vocab_size=V, norm="layer_norm", norm_position="pre",
        norm_eps=raw.get("layer_norm_epsilon", 1e-5),
        activation=hf_activation(raw, "activation_function", "gelu_new"), positions="rotary",
        max_positions=size["n_positions"], rotary_dim=None if rotary_dim == D else rotary_dim,
        final_norm=True, attention_bias=False, ffn_bias=True,
        tie_word_embeddings=raw.get("tie_word_embeddings", False) is True,
        final_logits_bias=True, parallel_residual=True, pad_token_id=raw.get("pad_token_id"))
    src = Source(tensors, "transformer.")
    # Rows of the q and k projections, head by head, in rotate-half order (see the docstring).
    rows = (np.arange(H)[:, None] * D + rotate_half_order(D, rotary_dim)).reshape(-1)

    out = {"embed.tokens": src.get("wte.weight", (V, E))}
    out.update(layer_norm(src, "ln_f", "decoder.final_norm", E))
    root = Source(tensors)
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = root.get("lm_head.weight", (V, E))
    out["lm_head.bias"] = root.get("lm_head.bias", (V,))  # GPTJForCausalLM's head has one
    for i in range(config.num_layers):
        layer, ours = f"h.{i}.", f"decoder.{i}."
        attn = layer + "attn."
        out[ours + "self_attn.qkv.weight"] = np.concatenate([
            src.get(attn + "q_proj.weight", (E, E))[rows],
            src.get(attn + "k_proj.weight", (E, E))[rows],
            src.get(attn + "v_proj.weight", (E, E))])
        out[ours + "self_attn.out.weight"] = src.get(attn + "out_proj.weight", (E, E))
        for hf_name, our_name, shape in (("fc_in", "up", (F, E)), ("fc_out", "down", (E, F))):
            out[ours + f"ffn.{our_name}.weight"] = src.get(layer + f"mlp.{hf_name}.weight", shape)
            out[ours + f"ffn.{our_name}.bias"] = src.get(layer + f"mlp.{hf_name}.bias", shape[:1])
        # One LayerNorm feeds both blocks: ours normalises twice with the same weights.
        out.update(layer_norm(src, layer + "ln_1", ours + "self_attn_norm", E))
        out.update(layer_norm(src, layer + "ln_1", ours + "ffn_norm", E))
    return config, out
