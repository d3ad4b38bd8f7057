"""Models built from a ModelConfig and canonical tensors (see pytransformer.weights)."""

from .decoder import Decoder, EncoderDecoder
from .encoder import Encoder

__all__ = ["Decoder", "Encoder", "EncoderDecoder"]
