"""Hugging Face GPT-2 (model_type "gpt2": GPT2Model, GPT2LMHeadModel) -> our config and
canonical tensors. GPT-2 is a pre-LN decoder with learned positions, the tanh GELU, a final
LayerNorm and the output projection tied to the token embedding. Its linear layers are
``Conv1D``s that store weights as [in, out]: they are transposed to PyTorch's Linear layout."""

from __future__ import annotations

from typing import Tuple

from ..config import ModelConfig
from ._common import Source, Tensors, hf_activation, hf_int

# GPT2Config's defaults, used for a field missing from config.json (as transformers does).
GPT2_DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    activation = hf_activation(raw, "activation_function", "gelu_new")
    if raw.get("scale_attn_by_inverse_layer_idx"):
        raise ValueError("config.json: scale_attn_by_inverse_layer_idx=True is not supported")
    if raw.get("scale_attn_weights", True) is False:
        raise ValueError("config.json: scale_attn_weights=False is not supported")
    size = {key: hf_int(raw, key, default) for key, default in GPT2_DEFAULTS.items()}
    E = size["n_embd"]
    F = hf_int(raw, "n_inner", 4 * E)
    config = ModelConfig(
        kind="decoder", num_layers=size["n_layer"], d_model=E, num_heads=size["n_head"],
        ffn_dim=F, vocab_size=size["vocab_size"], norm="layer_norm", norm_position="pre",
        norm_eps=raw.get("layer_norm_epsilon", 1e-5), activation=activation,
        positions="learned", max_positions=size["n_positions"], final_norm=True,
        tie_word_embeddings=True, pad_token_id=raw.get("pad_token_id"),
    )
    # GPT2LMHeadModel nests the body under "transformer."; GPT2Model does not.
    src = Source(tensors, "transformer." if "transformer.wte.weight" in tensors else "")
    out = {
        "embed.tokens": src.get("wte.weight", (config.vocab_size, E)),
        "embed.positions": src.get("wpe.weight", (config.max_positions, E)),
        "decoder.final_norm.weight": src.get("ln_f.weight", (E,)),
        "decoder.final_norm.bias": src.get("ln_f.bias", (E,)),
    }
    for i in range(config.num_layers):
        h, ours = f"h.{i}.", f"decoder.{i}."
        pairs = (("attn.c_attn", "self_attn.qkv", (E, 3 * E)), ("attn.c_proj", "self_attn.out", (E, E)),
                 ("mlp.c_fc", "ffn.up", (E, F)), ("mlp.c_proj", "ffn.down", (F, E)))
        for theirs, name, shape in pairs:
            # A transposed view, not a copy: the GEMM packs from any strides.
            out[ours + name + ".weight"] = src.get(h + theirs + ".weight", shape).T
            out[ours + name + ".bias"] = src.get(h + theirs + ".bias", (shape[1],))
        for theirs, name in (("ln_1", "self_attn_norm"), ("ln_2", "ffn_norm")):
            out[ours + name + ".weight"] = src.get(h + theirs + ".weight", (E,))
            out[ours + name + ".bias"] = src.get(h + theirs + ".bias", (E,))
    return config, out
