"""Hugging Face T5 (model_type "t5": T5ForConditionalGeneration, T5Model, T5EncoderModel;
t5-*, Flan-T5, T5 v1.1) and mT5 ("mt5") -> our config and canonical tensors.

What T5 chooses, in our terms: pre-RMSNorm layers ("T5LayerNorm") with final norms, no biases
anywhere, no position embeddings but a relative position bias shared by the layers of each
stack (bidirectional in the encoder, looking back in the decoder; relative_position_bias), no
1/sqrt(d) scaling of the attention scores (T5 folds it into its weights), heads of d_kv that
need not divide d_model (Flan-T5 small: 6 heads of 64 in a width of 512), a ReLU feed-forward
(T5) or a gated GELU one (feed_forward_proj "gated-gelu": T5 v1.1, Flan-T5, mT5), one token
table for both stacks. T5's decoder output is scaled by d_model^-0.5 before the output
projection when its config ties the head to the token table (transformers 5 writes the choice
as ``scale_decoder_outputs``; mT5 never scales): folded here into the decoder's final norm,
which feeds only the head. A checkpoint with an ``lm_head.weight`` of its own and
``tie_word_embeddings: false`` (Flan-T5, mT5 as published) keeps that head.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config import GATED_ACTIVATIONS, GATED_BY_GATE, ModelConfig
from ._common import HF_ACTIVATIONS, Source, Tensors, hf_int

# T5Config's defaults, used for a field missing from config.json (as transformers does).
T5_DEFAULTS = {"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6,
               "num_heads": 8, "relative_attention_num_buckets": 32,
               "relative_attention_max_distance": 128}


def _activation(raw: dict) -> str:
    """Our activation for feed_forward_proj: "relu", "gelu_new", ... or "gated-<act>"."""
    proj = raw.get("feed_forward_proj", "relu")
    gated = proj.startswith("gated-")
    name = proj[len("gated-"):] if gated else proj
    if gated and name == "gelu":  # transformers reads "gated-gelu" as gelu_new (tanh)
        name = "gelu_new"
    ours = HF_ACTIVATIONS.get(name)
    if gated:
        ours = GATED_BY_GATE.get(ours)
    if ours is None:
        raise ValueError(f"config.json: feed_forward_proj {proj!r} is not supported; supported: "
                         "relu, gelu, gelu_new, silu and gated-gelu, gated-silu")
    return ours


def convert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "t5": the tied head's input is scaled unless the config says otherwise."""
    scale = raw.get("scale_decoder_outputs", raw.get("tie_word_embeddings", True) is not False)
    return _convert(raw, tensors, scale_output=bool(scale))


def convert_mt5(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    """model_type "mt5": T5 v1.1's layers; transformers never scales its decoder output."""
    return _convert(raw, tensors, scale_output=False)


def _convert(raw: dict, tensors: Tensors, scale_output: bool) -> Tuple[ModelConfig, Tensors]:
    size = {key: hf_int(raw, key, default) for key, default in T5_DEFAULTS.items()}
    E, D, H, F = size["d_model"], size["d_kv"], size["num_heads"], size["d_ff"]
    V = size["vocab_size"]
    activation = _activation(raw)
    src = Source(tensors)
    encoder_only = not src.has("decoder.final_layer_norm.weight")
    layers = size["num_layers"]
    decoder_layers = hf_int(raw, "num_decoder_layers", layers)
    tied = raw.get("tie_word_embeddings", True) is not False and not src.has("lm_head.weight")
    config = ModelConfig(
        kind="encoder" if encoder_only else "encoder-decoder", num_layers=layers,
        num_decoder_layers=None if encoder_only or decoder_layers == layers else decoder_layers,
        d_model=E, num_heads=H, attention_head_dim=D, attention_scale=1.0, ffn_dim=F,
        vocab_size=V, norm="rms_norm", norm_position="pre",
        norm_eps=float(raw.get("layer_norm_epsilon", 1e-6)), activation=activation,
        positions="none", relative_position_bias=True,
        relative_buckets=size["relative_attention_num_buckets"],
        relative_max_distance=size["relative_attention_max_distance"], final_norm=True,
        attention_bias=False, ffn_bias=False, tie_word_embeddings=tied,
        pad_token_id=raw.get("pad_token_id", 0))

    out = {"embed.tokens": src.get("shared.weight" if src.has("shared.weight")
                                   else "encoder.embed_tokens.weight", (V, E))}
    stacks = [("encoder", layers)] + ([] if encoder_only else [("decoder", decoder_layers)])
    for stack, count in stacks:
        out[f"{stack}.relative_bias"] = src.get(
            f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            (size["relative_attention_num_buckets"], H))
        for i in range(count):
            out.update(_block(src, stack, i, E, H * D, F, activation in GATED_ACTIVATIONS))
        norm = src.get(f"{stack}.final_layer_norm.weight", (E,))
        if stack == "decoder" and scale_output:
            norm = norm * np.float32(E ** -0.5)
        out[f"{stack}.final_norm.weight"] = norm
    if not encoder_only and not tied:
        out["lm_head.weight"] = src.get("lm_head.weight", (V, E))
    return config, out


def _block(src: Source, stack: str, i: int, E: int, inner: int, F: int, gated: bool) -> Tensors:
    """T5Block i of a stack: layer.0 self-attention, (decoder) layer.1 cross-attention, then
    the feed-forward, each with its pre-norm."""
    hf, ours = f"{stack}.block.{i}.layer.", f"{stack}.{i}."
    attn = ours + ("attn" if stack == "encoder" else "self_attn")
    self_attn = hf + "0.SelfAttention."
    out = {
        attn + ".qkv.weight": np.concatenate(
            [src.get(self_attn + p + ".weight", (inner, E)) for p in "qkv"]),
        attn + ".out.weight": src.get(self_attn + "o.weight", (E, inner)),
        attn + "_norm.weight": src.get(hf + "0.layer_norm.weight", (E,)),
    }
    ffn = hf + "1."
    if stack == "decoder":
        cross, ffn = hf + "1.EncDecAttention.", hf + "2."
        out.update({
            ours + "cross_attn.q.weight": src.get(cross + "q.weight", (inner, E)),
            ours + "cross_attn.kv.weight": np.concatenate(
                [src.get(cross + p + ".weight", (inner, E)) for p in "kv"]),
            ours + "cross_attn.out.weight": src.get(cross + "o.weight", (E, inner)),
            ours + "cross_attn_norm.weight": src.get(hf + "1.layer_norm.weight", (E,)),
        })
    dense = ffn + "DenseReluDense."
    if gated:  # wi_0 is the gate (activated), wi_1 the linear branch
        out[ours + "ffn.gate.weight"] = src.get(dense + "wi_0.weight", (F, E))
        out[ours + "ffn.up.weight"] = src.get(dense + "wi_1.weight", (F, E))
    else:
        out[ours + "ffn.up.weight"] = src.get(dense + "wi.weight", (F, E))
    out[ours + "ffn.down.weight"] = src.get(dense + "wo.weight", (E, F))
    out[ours + "ffn_norm.weight"] = src.get(ffn + "layer_norm.weight", (E,))
    return out
