"""Converters from other formats to our config + canonical tensors (see pytransformer.weights).

HF_CONVERTERS maps a Hugging Face ``model_type`` to a function (config.json dict, tensors) ->
(ModelConfig, canonical tensors). One file per source format.
"""

from . import (hf_bart, hf_bert, hf_gpt2, hf_gpt_bigcode, hf_gpt_neox, hf_gptj, hf_llama, hf_marian,
               hf_opt, hf_phi, hf_t5)

HF_CONVERTERS = {
    "bart": hf_bart.convert,
    "bert": hf_bert.convert,
    "camembert": hf_bert.convert_roberta,
    "distilbert": hf_bert.convert_distilbert,
    "gemma": hf_llama.convert_gemma,
    "gpt2": hf_gpt2.convert,
    "gpt_bigcode": hf_gpt_bigcode.convert,
    "gpt_neox": hf_gpt_neox.convert,
    "gptj": hf_gptj.convert,
    "llama": hf_llama.convert,
    "marian": hf_marian.convert,
    "mbart": hf_bart.convert_mbart,
    "mistral": hf_llama.convert_mistral,
    "mpnet": hf_bert.convert_mpnet,
    "mt5": hf_t5.convert_mt5,
    "opt": hf_opt.convert,
    "phi": hf_phi.convert,
    "phi3": hf_llama.convert_phi3,
    "qwen2": hf_llama.convert_qwen2,
    "qwen3": hf_llama.convert_qwen3,
    "roberta": hf_bert.convert_roberta,
    "stablelm": hf_llama.convert_stablelm,
    "t5": hf_t5.convert,
    "xlm-roberta": hf_bert.convert_roberta,
}
