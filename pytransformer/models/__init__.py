"""Models built from a ModelConfig and canonical tensors (see pytransformer.weights)."""

from .encoder import Encoder

__all__ = ["Encoder"]
