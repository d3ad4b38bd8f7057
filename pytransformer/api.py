"""Loading and saving models: ``pytransformer.load`` and ``pytransformer.save``."""

from __future__ import annotations

from typing import Optional, Union

from . import backends, quantize, weights
from .config import ModelConfig
from .models import Decoder, Encoder, EncoderDecoder

COMPUTE_TYPES = ("float32", "int8")  # what save() writes and the CPU runs
LOAD_COMPUTE_TYPES = {"cpu": COMPUTE_TYPES, "cuda": backends.CUDA_COMPUTE_TYPES}


_MODELS = {"encoder": Encoder, "decoder": Decoder, "encoder-decoder": EncoderDecoder}


def load(path, compute_type: Optional[str] = None, device: str = "cpu"):
    """Load a checkpoint folder (ours, or a Hugging Face one of a supported model_type) and build
    its model (Encoder, Decoder or EncoderDecoder), weights packed once.

    device: ``"cpu"`` (the default) or ``"cuda"`` / ``"cuda:N"`` (a build with
    ``-Ccmake.define.PYTRANSFORMER_CUDA=ON`` and an NVIDIA GPU; see ``cuda_available``): the
    weights are uploaded once, the KV cache and activations stay on the GPU, inputs and outputs
    are NumPy as on the CPU. On CUDA, compute_type may also be ``"float16"`` or ``"bfloat16"``
    (Linear weights stored in that type, products accumulated in float32); int8 is CPU-only.

    compute_type: ``"float32"``, ``"int8"`` or None (the checkpoint's own: int8 for one written
    by ``save(..., compute_type="int8")``, else float32). ``"int8"`` quantizes every Linear
    weight per output channel at load (a quantized checkpoint is used as stored, without any
    float32 weights) and runs the Linear layers on the int8 GEMM with activations quantized per
    token; embeddings, norms, softmax and attention stay float32 (see pytransformer/quantize.py).
    ``"float32"`` on a quantized checkpoint dequantizes its weights.
    """
    kind = device.partition(":")[0] if isinstance(device, str) else device
    supported = LOAD_COMPUTE_TYPES.get(kind, COMPUTE_TYPES)
    if compute_type is not None and compute_type not in supported:
        raise ValueError(f"compute_type: {compute_type!r} is not supported on {kind!r}; "
                         f"supported: {', '.join(supported)}")
    backend = backends.get(device, "float32" if compute_type in (None, "int8") else compute_type)
    config, tensors = weights.load(path)
    if compute_type == "int8":
        tensors = quantize.quantize_tensors(tensors)
    elif quantize.is_quantized(tensors) and (compute_type is not None or backend.device != "cpu"):
        tensors = quantize.dequantize_tensors(tensors)
    model = _MODELS[config.kind](config, tensors, backend)
    if config.kind != "encoder":
        # generate() defaults: the raw HF generation keys (generation_config.json / config.json)
        model.generation_config = weights.load_generation_config(path)
    return model


def save(config: ModelConfig, tensors: Union[dict, None], path, generation_config=None,
         compute_type: str = "float32") -> None:
    """Write a model in our format (config.json + model.safetensors, canonical tensor names, and
    generation_config.json when generation_config, a dict of HF generation keys, is given).

    ``compute_type="int8"`` stores every Linear weight quantized (``<name>.weight`` int8 and
    ``<name>.weight_scale`` float32 per output channel), about a quarter of the float32 size;
    ``load`` then runs it as int8 without needing the float32 weights."""
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"compute_type: {compute_type!r} is not supported; supported: "
                         f"{', '.join(COMPUTE_TYPES)}")
    if compute_type == "int8":
        tensors = quantize.quantize_tensors(tensors)
    elif quantize.is_quantized(tensors):
        tensors = quantize.dequantize_tensors(tensors)
    weights.save(config, tensors, path, generation_config)
