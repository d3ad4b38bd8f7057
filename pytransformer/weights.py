"""Checkpoints in, (ModelConfig, canonical tensors) out; and our own format out.

Our format is a folder with ``config.json`` (a :class:`ModelConfig`, ``"format":
"pytransformer"``) and ``model.safetensors`` holding tensors under canonical names:

    embed.tokens [V, E]            embed.positions [P, E]        embed.token_types [TV, E]
    embed.norm.{weight,bias}
    encoder.{i}.attn.qkv.{weight,bias}   [E + 2 * Hkv * D, E]  (query, key, value stacked)
    encoder.{i}.attn.out.{weight,bias}   encoder.{i}.attn_norm.{weight,bias}
    encoder.{i}.ffn.up.{weight,bias}     encoder.{i}.ffn.down.{weight,bias}
    encoder.{i}.ffn_norm.{weight,bias}   encoder.final_norm.{weight,bias}

A Hugging Face checkpoint folder (config.json + model.safetensors, or pytorch_model.bin when
torch is installed) of a supported ``model_type`` is converted to the same on load.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Dict, Tuple

import numpy as np

from . import safetensors
from .config import ModelConfig

Tensors = Dict[str, np.ndarray]


def save(config: ModelConfig, tensors: Tensors, path) -> None:
    """Write ``config`` and ``tensors`` (canonical names) as our format into folder ``path``."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(config.to_json())
    safetensors.save({k: np.asarray(v) for k, v in tensors.items()},
                     os.path.join(path, "model.safetensors"), metadata={"format": "pytransformer"})


def load(path) -> Tuple[ModelConfig, Tensors]:
    """Read a checkpoint folder (ours, or a supported Hugging Face one)."""
    path = os.fspath(path)
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{path}: no config.json (expected a checkpoint folder)")
    with open(config_path) as f:
        raw = json.load(f)
    if raw.get("format") == "pytransformer":
        return ModelConfig.from_dict(raw), _read_tensors(path)
    model_type = raw.get("model_type")
    if model_type not in _HF_CONVERTERS:
        raise ValueError(f"{config_path}: model_type {model_type!r} is not supported; supported: "
                         f"{', '.join(sorted(_HF_CONVERTERS))}")
    return _HF_CONVERTERS[model_type](raw, _read_tensors(path))


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


class _Source:
    """Named lookups into a checkpoint, with errors that name the missing or misshapen tensor."""

    def __init__(self, tensors: Tensors, prefix: str = ""):
        self.tensors = tensors
        self.prefix = prefix

    def get(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        full = self.prefix + name
        if full not in self.tensors:
            raise KeyError(f"checkpoint is missing tensor {full!r}")
        array = self.tensors[full]
        if tuple(array.shape) != tuple(shape):
            raise ValueError(f"checkpoint tensor {full!r}: expected shape {tuple(shape)}, "
                             f"found {tuple(array.shape)}")
        return np.asarray(array, dtype=np.float32)


_BERT_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_tanh",
                     "gelu_pytorch_tanh": "gelu_tanh", "silu": "silu", "swish": "silu"}


def _from_hf_bert(raw: dict, tensors: Tensors) -> Tuple[ModelConfig, Tensors]:
    act = raw.get("hidden_act", "gelu")
    if act not in _BERT_ACTIVATIONS:
        raise ValueError(f"config.json: hidden_act {act!r} is not supported; supported: "
                         f"{', '.join(_BERT_ACTIVATIONS)}")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"config.json: position_embedding_type "
                         f"{raw['position_embedding_type']!r} is not supported; supported: absolute")
    config = ModelConfig(
        kind="encoder", num_layers=raw["num_hidden_layers"], d_model=raw["hidden_size"],
        num_heads=raw["num_attention_heads"], ffn_dim=raw["intermediate_size"],
        vocab_size=raw["vocab_size"], norm="layer_norm", norm_position="post",
        norm_eps=raw.get("layer_norm_eps", 1e-12), activation=_BERT_ACTIVATIONS[act],
        positions="learned", max_positions=raw.get("max_position_embeddings", 512),
        type_vocab_size=raw.get("type_vocab_size", 2), embedding_norm=True,
        pad_token_id=raw.get("pad_token_id"),
    )
    # BertForX checkpoints nest the encoder under "bert."; BertModel ones do not.
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
    src = _Source(tensors, prefix)
    E, F = config.d_model, config.ffn_dim
    out = {
        "embed.tokens": src.get("embeddings.word_embeddings.weight", (config.vocab_size, E)),
        "embed.positions": src.get("embeddings.position_embeddings.weight", (config.max_positions, E)),
        "embed.token_types": src.get("embeddings.token_type_embeddings.weight", (config.type_vocab_size, E)),
        "embed.norm.weight": src.get("embeddings.LayerNorm.weight", (E,)),
        "embed.norm.bias": src.get("embeddings.LayerNorm.bias", (E,)),
    }
    for i in range(config.num_layers):
        layer = f"encoder.layer.{i}."
        ours = f"encoder.{i}."
        attn = layer + "attention."
        out[ours + "attn.qkv.weight"] = np.concatenate(
            [src.get(attn + f"self.{n}.weight", (E, E)) for n in ("query", "key", "value")])
        out[ours + "attn.qkv.bias"] = np.concatenate(
            [src.get(attn + f"self.{n}.bias", (E,)) for n in ("query", "key", "value")])
        out[ours + "attn.out.weight"] = src.get(attn + "output.dense.weight", (E, E))
        out[ours + "attn.out.bias"] = src.get(attn + "output.dense.bias", (E,))
        out[ours + "attn_norm.weight"] = src.get(attn + "output.LayerNorm.weight", (E,))
        out[ours + "attn_norm.bias"] = src.get(attn + "output.LayerNorm.bias", (E,))
        out[ours + "ffn.up.weight"] = src.get(layer + "intermediate.dense.weight", (F, E))
        out[ours + "ffn.up.bias"] = src.get(layer + "intermediate.dense.bias", (F,))
        out[ours + "ffn.down.weight"] = src.get(layer + "output.dense.weight", (E, F))
        out[ours + "ffn.down.bias"] = src.get(layer + "output.dense.bias", (E,))
        out[ours + "ffn_norm.weight"] = src.get(layer + "output.LayerNorm.weight", (E,))
        out[ours + "ffn_norm.bias"] = src.get(layer + "output.LayerNorm.bias", (E,))
    return config, out


_HF_CONVERTERS: Dict[str, Callable[[dict, Tensors], Tuple[ModelConfig, Tensors]]] = {
    "bert": _from_hf_bert,
}
