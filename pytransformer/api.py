"""Loading and saving models: ``pytransformer.load`` and ``pytransformer.save``."""

from __future__ import annotations

from typing import Union

from . import weights
from .config import ModelConfig
from .models import Decoder, Encoder, EncoderDecoder

COMPUTE_TYPES = ("float32",)


_MODELS = {"encoder": Encoder, "decoder": Decoder, "encoder-decoder": EncoderDecoder}


def load(path, compute_type: str = "float32"):
    """Load a checkpoint folder (ours, or a Hugging Face one of a supported model_type) and build
    its model (Encoder, Decoder or EncoderDecoder), weights packed once."""
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"compute_type: {compute_type!r} is not supported; supported: "
                         f"{', '.join(COMPUTE_TYPES)}")
    config, tensors = weights.load(path)
    model = _MODELS[config.kind](config, tensors)
    if config.kind != "encoder":
        # generate() defaults: the raw HF generation keys (generation_config.json / config.json)
        model.generation_config = weights.load_generation_config(path)
    return model


def save(config: ModelConfig, tensors: Union[dict, None], path, generation_config=None) -> None:
    """Write a model in our format (config.json + model.safetensors, canonical tensor names, and
    generation_config.json when generation_config, a dict of HF generation keys, is given)."""
    weights.save(config, tensors, path, generation_config)
