"""Converters from other formats to our config + canonical tensors (see pytransformer.weights).

HF_CONVERTERS maps a Hugging Face ``model_type`` to a function (config.json dict, tensors) ->
(ModelConfig, canonical tensors). One file per source format.
"""

from . import hf_bert

HF_CONVERTERS = {
    "bert": hf_bert.convert,
}
