"""Checkpoints in, (ModelConfig, canonical tensors) out; and our own format out.

Our format is a folder with ``config.json`` (a :class:`ModelConfig`, ``"format":
"pytransformer"``) and ``model.safetensors`` holding tensors under canonical names:

    embed.tokens [V, E]    embed.positions [P, E]    embed.token_types [TV, E]    embed.norm.*
    encoder.{i}.attn.qkv.*     [(H + 2 Hkv) D, E]: query, key, value rows stacked
    encoder.{i}.attn.out.*     encoder.{i}.attn_norm.*
    encoder.{i}.ffn.up.*       encoder.{i}.ffn.down.*    (encoder.{i}.ffn.gate.* when gated)
    encoder.{i}.ffn_norm.*     encoder.final_norm.*
    encoder.relative_bias, decoder.relative_bias [buckets, H]  (relative_position_bias: T5, MPNet)
    decoder_embed.*            (encoder-decoders whose decoder embeddings differ; default embed.*)
    decoder.{i}.self_attn.qkv.*    decoder.{i}.self_attn.out.*    decoder.{i}.self_attn_norm.*
    decoder.{i}.cross_attn.q.*     decoder.{i}.cross_attn.kv.* [2 Hkv D, E]  (key rows, then value)
    decoder.{i}.cross_attn.out.*   decoder.{i}.cross_attn_norm.*
    decoder.{i}.ffn.{gate,up,down}.*   decoder.{i}.ffn_norm.*   decoder.final_norm.*
    lm_head.weight [V, E]      (absent: tied to the decoder's token embedding)
    lm_head.bias [V]           (the final logits bias, when the model has one)
    classifier.dense.* [E, E], classifier.out.* [num_labels, E]  (an encoder's classification head)

where ``.*`` is ``.weight`` and, when the model has biases, ``.bias``. Decoder-only models use
``embed.*`` and ``decoder.{i}.*`` without cross-attention.

A Hugging Face checkpoint folder (config.json + model.safetensors, or pytorch_model.bin when
torch is installed) of a supported ``model_type`` is converted to the same on load.
"""

from __future__ import annotations

import json
import os
from typing import Dict, Tuple

import numpy as np

from . import quantize, safetensors
from .config import GATED_ACTIVATIONS, ModelConfig
from .convert._common import CheckpointError

Tensors = Dict[str, np.ndarray]


def save(config: ModelConfig, tensors: Tensors, path, generation_config=None) -> None:
    """Write ``config`` and ``tensors`` (canonical names) as our format into folder ``path``,
    with ``generation_config`` (a dict of Hugging Face generation keys) as generation_config.json
    when given."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(config.to_json())
    if generation_config:
        with open(os.path.join(path, "generation_config.json"), "w") as f:
            json.dump(dict(generation_config), f, indent=2, sort_keys=True)
    metadata = {"format": "pytransformer"}
    if any(k.endswith(".weight_scale") for k in tensors):
        metadata["quantization"] = "int8"  # Linear weights int8 + per-channel .weight_scale
    safetensors.save({k: np.asarray(v) for k, v in tensors.items()},
                     os.path.join(path, "model.safetensors"), metadata=metadata)


def load(path) -> Tuple[ModelConfig, Tensors]:
    """Read a checkpoint folder (ours, or a supported Hugging Face one)."""
    path = os.fspath(path)
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{path}: no config.json (expected a checkpoint folder)")
    raw = _read_json(config_path)
    if raw.get("format") == "pytransformer":
        config, tensors = ModelConfig.from_dict(raw), _read_tensors(path)
        validate(config, tensors)
        return config, tensors
    from .convert import HF_CONVERTERS

    model_type = raw.get("model_type")
    if model_type not in HF_CONVERTERS:
        raise ValueError(f"{config_path}: model_type {model_type!r} is not supported; supported: "
                         f"{', '.join(sorted(HF_CONVERTERS))}")
    source = _read_tensors(path)
    config, tensors = HF_CONVERTERS[model_type](raw, source)
    validate(config, tensors)
    # The converted tensors are views of the same mapped file: keep its page release.
    return config, safetensors.MappedTensors(tensors, getattr(source, "mappings", ()))


def load_generation_config(path) -> Dict:
    """The checkpoint's raw generation defaults, as Hugging Face finds them:
    generation_config.json when present (ours or HF's), else the generation keys of config.json
    (GenerationConfig.from_model_config; for our format only pad_token_id is there)."""
    from .generate import GENERATION_KEYS

    path = os.fspath(path)
    generation_path = os.path.join(path, "generation_config.json")
    if not os.path.isfile(generation_path):
        generation_path = os.path.join(path, "config.json")
    raw = _read_json(generation_path)
    return {k: v for k, v in raw.items() if k in GENERATION_KEYS and v is not None}


def _read_json(path: str) -> dict:
    """A JSON file whose top level is an object (config.json, generation_config.json)."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path}: cannot be read as JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, got a "
                         f"{type(raw).__name__}")
    return raw


def _read_tensors(path: str) -> Tensors:
    st_path = os.path.join(path, "model.safetensors")
    if os.path.isfile(st_path):
        return safetensors.load(st_path)
    bin_path = os.path.join(path, "pytorch_model.bin")
    if os.path.isfile(bin_path):
        try:
            import torch
        except ImportError:
            raise ImportError(f"{bin_path}: reading a .bin checkpoint needs torch; convert it to "
                              "model.safetensors to load without torch") from None
        state = torch.load(bin_path, map_location="cpu", weights_only=True)
        return {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}
    raise FileNotFoundError(f"{path}: no model.safetensors (or pytorch_model.bin)")


def expected_shapes(config: ModelConfig) -> Dict[str, Tuple[int, ...]]:
    """The canonical tensors ``config`` needs, with their shapes (optional ones excluded)."""
    E, F, V = config.d_model, config.ffn_dim, config.vocab_size
    D, H, Hkv = config.head_dim, config.num_heads, config.kv_heads
    shapes: Dict[str, Tuple[int, ...]] = {}

    def linear(name, out_features, in_features, bias):
        shapes[name + ".weight"] = (out_features, in_features)
        if bias:
            shapes[name + ".bias"] = (out_features,)

    def norm(name):  # a LayerNorm's bias is optional (nn.LayerNorm(bias=False))
        shapes[name + ".weight"] = (E,)

    def head_norms(name):
        if config.qk_norm:
            shapes[name + ".q_norm.weight"] = (D,)
            shapes[name + ".k_norm.weight"] = (D,)

    def ffn(name):
        linear(name + ".up", F, E, config.ffn_bias)
        linear(name + ".down", E, F, config.ffn_bias)
        if config.activation in GATED_ACTIVATIONS:
            linear(name + ".gate", F, E, config.ffn_bias)

    shapes["embed.tokens"] = (V, E)
    if config.positions == "learned":
        shapes["embed.positions"] = (config.max_positions, E)
    if config.type_vocab_size:
        shapes["embed.token_types"] = (config.type_vocab_size, E)
    if config.embedding_norm:
        norm("embed.norm")
    relative = config.relative_position_bias
    if config.num_labels:
        linear("classifier.dense", E, E, True)
        linear("classifier.out", config.num_labels, E, True)
    if config.kind != "decoder":
        if relative:
            shapes["encoder.relative_bias"] = (config.relative_buckets, H)
        for i in range(config.num_layers):
            layer = f"encoder.{i}."
            linear(layer + "attn.qkv", (H + 2 * Hkv) * D, E, config.attention_bias)
            linear(layer + "attn.out", E, H * D, config.attention_bias)
            head_norms(layer + "attn")
            norm(layer + "attn_norm")
            ffn(layer + "ffn")
            norm(layer + "ffn_norm")
        if config.final_norm:
            norm("encoder.final_norm")
    if config.kind != "encoder":
        cross = config.kind == "encoder-decoder"
        if relative:
            shapes["decoder.relative_bias"] = (config.relative_buckets, H)
        for i in range(config.decoder_layers):
            layer = f"decoder.{i}."
            linear(layer + "self_attn.qkv", (H + 2 * Hkv) * D, E, config.attention_bias)
            linear(layer + "self_attn.out", E, H * D, config.attention_bias)
            head_norms(layer + "self_attn")
            norm(layer + "self_attn_norm")
            if cross:
                linear(layer + "cross_attn.q", H * D, E, config.attention_bias)
                linear(layer + "cross_attn.kv", 2 * Hkv * D, E, config.attention_bias)
                linear(layer + "cross_attn.out", E, H * D, config.attention_bias)
                norm(layer + "cross_attn_norm")
            ffn(layer + "ffn")
            norm(layer + "ffn_norm")
        if config.final_norm:
            norm("decoder.final_norm")
        if not config.tie_word_embeddings:
            shapes["lm_head.weight"] = (V, E)
        if config.final_logits_bias:
            shapes["lm_head.bias"] = (V,)
    return shapes


def validate(config: ModelConfig, tensors: Tensors) -> None:
    """Raise CheckpointError (a ValueError) naming the first tensor ``config`` needs that is
    missing from ``tensors`` or has the wrong shape, or a tensor of the wrong dtype: floating
    point, but for the int8 Linear weights of a quantized checkpoint, each with its float
    ``.weight_scale`` [out] (see pytransformer/quantize.py)."""
    for name, shape in expected_shapes(config).items():
        if name not in tensors:
            raise CheckpointError(f"checkpoint is missing tensor {name!r}")
        if tuple(tensors[name].shape) != shape:
            raise CheckpointError(f"checkpoint tensor {name!r}: expected shape {shape}, "
                                  f"found {tuple(tensors[name].shape)}")
    for name, array in tensors.items():
        if array.dtype == np.int8 and quantize.is_linear_weight(name, array):
            scale = tensors.get(name + "_scale")
            if scale is None:
                raise CheckpointError(f"checkpoint tensor {name!r}: an int8 weight needs its "
                                      f"scales {name + '_scale'!r}, which are missing")
            if scale.dtype.kind != "f" or scale.shape != array.shape[:1]:
                raise CheckpointError(f"checkpoint tensor {name + '_scale'!r}: expected float "
                                      f"scales of shape {array.shape[:1]}, found {scale.dtype} "
                                      f"{scale.shape}")
        elif array.dtype.kind != "f":
            raise CheckpointError(f"checkpoint tensor {name!r}: expected a floating-point dtype, "
                                  f"found {array.dtype}")
