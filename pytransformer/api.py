"""Loading and saving models: ``pytransformer.load`` and ``pytransformer.save``."""

from __future__ import annotations

from typing import Union

from . import weights
from .config import ModelConfig
from .models import Encoder

COMPUTE_TYPES = ("float32",)


def load(path, compute_type: str = "float32") -> Encoder:
    """Load a checkpoint folder (ours, or a Hugging Face one of a supported model_type) and build
    its model, weights packed once. Encoders are supported so far; decoders and
    encoder-decoders raise ValueError."""
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"compute_type: {compute_type!r} is not supported; supported: "
                         f"{', '.join(COMPUTE_TYPES)}")
    config, tensors = weights.load(path)
    if config.kind == "encoder":
        return Encoder(config, tensors)
    raise ValueError(f"config.kind: {config.kind!r} models are not supported yet; supported: encoder")


def save(config: ModelConfig, tensors: Union[dict, None], path) -> None:
    """Write a model in our format (config.json + model.safetensors, canonical tensor names)."""
    weights.save(config, tensors, path)
