"""Hugging Face LLaMA-family decoders -> our config and canonical tensors: "llama" (LlamaModel,
LlamaForCausalLM), "mistral", "phi3", "qwen2", "qwen3", "gemma" and "stablelm". All are pre-norm
decoders with rotary positions (rotate-half layout), grouped-query attention and a gated
feed-forward (SwiGLU; Gemma's tanh GELU, its norms scaling by 1 + weight, its embeddings by
sqrt(hidden_size)); heads of head_dim need not divide hidden_size (Gemma 7B: 16 x 256 in 3072).
The norms are RMSNorms but StableLM's LayerNorms (with biases); StableLM rotates a quarter of
each head by default and may run attention and feed-forward side by side from one norm
(use_parallel_residual); Phi-3 configs may rotate part of each head (Phi-4-mini: three quarters,
but with longrope). The others rotate whole heads: transformers ignores a partial_rotary_factor
there, and so does the converter. Phi-3 stores q, k, v in one projection and gate and up in
another; Qwen3 normalises each query and key head before the rotary positions. They differ in
biases (LLaMA, Mistral, Phi-3, Qwen3 and Gemma none by default; Qwen2 biases on the q, k and v
projections but not on the output one) and in sliding-window attention: Mistral 7B v0.1 attends
through a window of 4096 positions in every layer, Phi-3-mini-4k through one of 2047, Qwen2 and
Qwen3 with use_sliding_window in the layers their layer_types (or max_window_layers) name;
Mistral v0.2 and later and the released Qwen2 / Qwen2.5 / Qwen3 use full attention."""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from ..config import GATED_BY_GATE, ModelConfig
from ._common import HF_ACTIVATIONS, Source, Tensors, hf_int, hf_rope

# LlamaConfig's and GemmaConfig's defaults, used for a field missing from config.json (as
# transformers does).
LLAMA_DEFAULTS = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                  "num_hidden_layers": 32, "num_attention_heads": 32,
                  "max_position_embeddings": 2048}
PHI3_DEFAULTS = {"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
                 "num_hidden_layers": 32, "num_attention_heads": 32,
                 "max_position_embeddings": 4096}
STABLELM_DEFAULTS = {"vocab_size": 50304, "hidden_size": 2560, "intermediate_size": 6912,
                     "num_hidden_layers": 32, "num_attention_heads": 32,
                     "max_position_embeddings": 4096}
GEMMA_DEFAULTS = {"vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576,
                  "num_hidden_layers": 28, "num_attention_heads": 16, "head_dim": 256,
                  "max_position_embeddings": 8192}


def _sliding_window(raw: dict, model_type: str,
                    layers: int) -> Tuple[Optional[int], Optional[List[int]]]:
    """The sliding window of this checkpoint and the layers that use it (None: every layer),
    as transformers reads them; (None, None) for full attention."""
    default = None if model_type == "phi3" else 4096  # the configs' when the field is absent
    window = raw.get("sliding_window", default)
    if window is None or model_type not in ("mistral", "phi3", "qwen2", "qwen3"):
        return None, None
    window = hf_int(raw, "sliding_window", default)
    if model_type in ("mistral", "phi3"):  # every layer (MistralModel ignores layer_types)
        return window, None
    # Qwen2Config and Qwen3Config: only with use_sliding_window, in the layers layer_types names
    # (by default those from max_window_layers on).
    if not raw.get("use_sliding_window", False):
        return None, None
    kinds = raw.get("layer_types") or [
        "sliding_attention" if i >= hf_int(raw, "max_window_layers", 28, 0) else "full_attention"
        for i in range(layers)]
    if not isinstance(kinds, list) or len(kinds) != layers or not set(kinds) <= {
            "sliding_attention", "full_attention"}:
        raise ValueError(f"config.json: layer_types: expected {layers} of 'sliding_attention' "
                         f"or 'full_attention', got {kinds!r}")
    sliding = [i for i, kind in enumerate(kinds) if kind == "sliding_attention"]
    return (window, sliding) if sliding else (None, None)


def _activation(raw: dict, model_type: str) -> str:
    """The gated feed-forward of hidden_act: act(x W_gate) * (x W_up)."""
    act = raw.get("hidden_act", "gelu_pytorch_tanh" if model_type == "gemma" else "silu")
    if model_type == "gemma" and act == "gelu":  # GemmaConfig reads the legacy "gelu" as tanh
        act = "gelu_pytorch_tanh"
    gated = GATED_BY_GATE.get(HF_ACTIVATIONS.get(act))
    if gated is None:
        raise ValueError(f"config.json: hidden_act {act!r} is not supported; supported: silu, "
                         "gelu, gelu_pytorch_tanh (and the other tanh GELUs)")
    return gated


def _convert(raw: dict, tensors: Tensors, model_type: str, qkv_bias: bool,
             out_bias: bool) -> Tuple[ModelConfig, Tensors]:
    """out_bias counts only with qkv_bias (no family has an output bias alone)."""
    gemma = model_type == "gemma"
    stablelm = model_type == "stablelm"  # LayerNorms; partial rotary; maybe parallel
    fused = model_type == "phi3"  # one qkv_proj and one gate_up_proj
    if gemma and raw.get("use_bidirectional_attention"):
        raise ValueError("config.json: use_bidirectional_attention is not supported; supported: "
                         "causal attention")
    if stablelm and raw.get("qk_layernorm"):
        raise ValueError("config.json: qk_layernorm is not supported; supported: false")
    defaults = {"gemma": GEMMA_DEFAULTS, "phi3": PHI3_DEFAULTS,
                "stablelm": STABLELM_DEFAULTS}.get(model_type, LLAMA_DEFAULTS)
    size = {key: hf_int(raw, key, default) for key, default in defaults.items()}
    E, H, F = size["hidden_size"], size["num_attention_heads"], size["intermediate_size"]
    Hkv = hf_int(raw, "num_key_value_heads", 32 if stablelm else H)  # the config classes' default
    head_dim = hf_int(raw, "head_dim", size.get("head_dim", E // H))
    window, window_layers = _sliding_window(raw, model_type, size["num_hidden_layers"])
    mlp_bias = bool(raw.get("mlp_bias", False))
    # Only Phi-3 and StableLM rotate part of each head; the others ignore the factor.
    fraction = {"phi3": 1.0, "stablelm": 0.25}.get(model_type)
    rope_base, rotary_dim = hf_rope(raw, head_dim, fraction)
    # StableLM with use_parallel_residual: one norm feeds attention and feed-forward alike.
    parallel = stablelm and raw.get("use_parallel_residual", False) is True
    # Our config has one switch for the attention projections' biases; a checkpoint with biases
    # on q, k and v only (Qwen2) gets a zero bias on the output projection, which adds nothing.
    config = ModelConfig(
        kind="decoder", num_layers=size["num_hidden_layers"], d_model=E, num_heads=H,
        num_kv_heads=Hkv, attention_head_dim=head_dim if head_dim * H != E else None,
        ffn_dim=F, vocab_size=size["vocab_size"], norm="layer_norm" if stablelm else "rms_norm",
        norm_position="pre",
        norm_eps=raw.get("layer_norm_eps", 1e-5) if stablelm else raw.get("rms_norm_eps", 1e-6),
        activation=_activation(raw, model_type), parallel_residual=parallel,
        positions="rotary", max_positions=size["max_position_embeddings"],
        rope_base=rope_base, rotary_dim=rotary_dim, embedding_scale=math.sqrt(E) if gemma else 1.0,
        final_norm=True, attention_bias=qkv_bias, ffn_bias=mlp_bias,
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", gemma)),
        pad_token_id=raw.get("pad_token_id"), sliding_window=window,
        sliding_window_layers=window_layers, qk_norm=model_type == "qwen3",
    )
    src = Source(tensors, "model." if "model.embed_tokens.weight" in tensors else "")
    D = head_dim

    def norm(name: str, ours: str) -> Tensors:
        weight = src.get(name + ".weight", (E,))
        if gemma:  # Gemma's RMSNorm scales by 1 + weight
            weight = weight + np.float32(1.0)
        out = {ours + ".weight": weight}
        if stablelm:  # LayerNorm
            out[ours + ".bias"] = src.get(name + ".bias", (E,))
        return out

    out = {"embed.tokens": src.get("embed_tokens.weight", (config.vocab_size, E))}
    out.update(norm("norm", "decoder.final_norm"))
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = Source(tensors).get("lm_head.weight", (config.vocab_size, E))
    for i in range(config.num_layers):
        layer, ours = f"layers.{i}.", f"decoder.{i}."
        attn = layer + "self_attn."
        qkv_shapes = (("q_proj", H * D), ("k_proj", Hkv * D), ("v_proj", Hkv * D))
        if fused:  # Phi-3: q, k and v rows already stacked as ours
            out[ours + "self_attn.qkv.weight"] = src.get(attn + "qkv_proj.weight",
                                                         ((H + 2 * Hkv) * D, E))
        else:
            out[ours + "self_attn.qkv.weight"] = np.concatenate(
                [src.get(attn + name + ".weight", (rows, E)) for name, rows in qkv_shapes])
        out[ours + "self_attn.out.weight"] = src.get(attn + "o_proj.weight", (E, H * D))
        if qkv_bias:
            out[ours + "self_attn.qkv.bias"] = np.concatenate(
                [src.get(attn + name + ".bias", (rows,)) for name, rows in qkv_shapes])
            out[ours + "self_attn.out.bias"] = (src.get(attn + "o_proj.bias", (E,)) if out_bias
                                                else np.zeros(E, np.float32))
        if fused:  # Phi-3: the gate's rows, then up's, in one projection
            gate_up = src.get(layer + "mlp.gate_up_proj.weight", (2 * F, E))
            ffn = {"gate": gate_up[:F], "up": gate_up[F:]}
        else:
            ffn = {name: src.get(layer + f"mlp.{name}_proj.weight", (F, E))
                   for name in ("gate", "up")}
        ffn["down"] = src.get(layer + "mlp.down_proj.weight", (E, F))
        for name, weight in ffn.items():
            out[ours + f"ffn.{name}.weight"] = weight
            if mlp_bias:
                out[ours + f"ffn.{name}.bias"] = src.get(layer + f"mlp.{name}_proj.bias",
                                                         (weight.shape[0],))
        if config.qk_norm:
            for name in ("q_norm", "k_norm"):
                out[ours + f"self_attn.{name}.weight"] = src.get(attn + name + ".weight", (D,))
        out.update(norm(layer + "input_layernorm", ours + "self_attn_norm"))
        out.update(norm(layer + ("input_layernorm" if parallel else "post_attention_layernorm"),
                        ours + "ffn_norm"))
    return config, out


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "llama": attention_bias puts biases on all four attention projections."""
    bias = bool(raw.get("attention_bias", False))
    return _convert(raw, tensors, "llama", qkv_bias=bias, out_bias=bias)


def convert_mistral(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "mistral": LLaMA without biases, with a sliding window unless it is null."""
    return _convert(raw, tensors, "mistral", qkv_bias=False, out_bias=False)


def convert_gemma(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "gemma": a gated tanh-GELU feed-forward, RMSNorm scaling by 1 + weight (added
    here), token embeddings times sqrt(hidden_size), heads of head_dim (256) that need not
    divide hidden_size, a tied head."""
    bias = bool(raw.get("attention_bias", False))
    return _convert(raw, tensors, "gemma", qkv_bias=bias, out_bias=bias)


def convert_phi3(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "phi3" (Phi-3, Phi-3.5 mini): LLaMA's layer with q, k, v in one projection and
    gate and up in another, no biases, a sliding window in every layer when the config has one
    (Phi-3-mini-4k: 2047), rotary positions on partial_rotary_factor of each head. The
    long-context variants' "longrope" scaling is refused, and with it Phi-4-mini (3/4 rotated,
    longrope)."""
    return _convert(raw, tensors, "phi3", qkv_bias=False, out_bias=False)


def convert_qwen2(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "qwen2": biases on q, k and v, none on the output projection."""
    return _convert(raw, tensors, "qwen2", qkv_bias=True, out_bias=False)


def convert_qwen3(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "qwen3": each query and key head RMS-normalised before the rotary positions,
    attention biases only with attention_bias (none in the released models), heads of head_dim
    (128) that need not divide hidden_size (Qwen3-0.6B: 16 x 128 in 1024)."""
    bias = bool(raw.get("attention_bias", False))
    return _convert(raw, tensors, "qwen3", qkv_bias=bias, out_bias=bias)


def convert_stablelm(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "stablelm" (StableLM-3B-4E1T, StableLM-2): LLaMA's layer with LayerNorms,
    rotary positions on partial_rotary_factor of each head (a quarter by default), biases on
    q, k and v with use_qkv_bias, attention and feed-forward side by side from one norm with
    use_parallel_residual. Per-head q / k LayerNorms (qk_layernorm: StableLM-2-12B) are
    refused."""
    return _convert(raw, tensors, "stablelm", qkv_bias=bool(raw.get("use_qkv_bias", False)),
                    out_bias=False)
