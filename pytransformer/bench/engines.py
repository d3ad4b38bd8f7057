"""The engines the benchmark compares, in one place (``ENGINES``).

An engine is an adapter class with one method per case ``op`` (see ``cases.py``): the method
takes the case's inputs and params, does any load-time work (packing weights, building a
session) and returns a zero-argument callable that runs the timed call and returns its
output. An engine without a method for an op skips those cases. A peer (PyTorch, ONNX Runtime,
CTranslate2) is one more adapter class and one more ``ENGINES`` entry; ONNX Runtime's and
CTranslate2's adapters live in ``peers.py``.

Each adapter is built inside its own worker process, after the thread-count variables are set
and before anything else is imported, so it alone decides which runtimes that process loads.
This module imports only the standard library at the top.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Tuple

from . import peers  # the peer adapters; standard library only at its top, like this module

# Variables that size a runtime's thread pool; every worker gets all of them set to its count.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Variables that pick OpenBLAS kernels or cache sizes. Left alone unless the user asks
# (--unset-openblas-overrides), and reported either way.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../pytransformer


def threadpools() -> list:
    """threadpoolctl's view of the BLAS / OpenMP pools loaded in this process, or a note."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl is not installed (pip install threadpoolctl)"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer",
            "architecture")
    return [{k: pool.get(k) for k in keep if k in pool} for pool in threadpool_info()]


def _load_module(name: str):
    """pytransformer/<name>.py as a standalone module, for the NumPy-only ones (reference,
    safetensors): importing the package would load our OpenMP runtime into the NumPy worker."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", _PACKAGE_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NumpyEngine:
    """The plain-NumPy oracle, pytransformer.reference: the baseline every ratio is against."""

    def __init__(self, threads: int):
        import numpy

        self._np = numpy
        self.ref = _load_module("reference")

    def info(self) -> Dict[str, object]:
        return {"numpy": self._np.__version__, "threadpools": threadpools(),
                "pytransformer_imported": "pytransformer" in sys.modules,
                "env": {k: os.environ.get(k) for k in OPENBLAS_OVERRIDES + THREAD_VARIABLES}}

    def linear(self, x, weight, bias, activation=None):
        return lambda: self.ref.linear(x, weight, bias, activation)

    def layer_norm(self, x, weight, bias, residual=None):
        return lambda: self.ref.layer_norm(x, weight, bias, residual=residual)

    def softmax(self, x):
        return lambda: self.ref.softmax(x)

    def activation(self, x, kind):
        if kind == "gelu_tanh":
            return lambda: self.ref.gelu(x, approximate="tanh")
        function = {"gelu": self.ref.gelu, "silu": self.ref.silu}[kind]
        return lambda: function(x)

    def attention(self, q, k, v, key_padding_mask=None, causal=False):
        return lambda: self.ref.scaled_dot_product_attention(
            q, k, v, key_padding_mask=key_padding_mask, causal=causal)

    def rotary(self, x, positions):
        return lambda: self.ref.rotary_embedding(x, positions)

    def embedding(self, ids, table):
        return lambda: self.ref.embedding(ids, table)

    def encode_minilm(self, ids, attention_mask):
        from . import models

        tensors, config = models.load_minilm(_load_module("safetensors"))
        return lambda: models.bert_encode(self.ref, tensors, config, ids, attention_mask)

    def transformer_base(self, src, tgt, src_padding):
        from . import models

        tensors = models.transformer_base_tensors()
        return lambda: models.transformer_base_forward(self.ref, tensors, src, tgt, src_padding)


def _prefill_call(model, ids):
    """Generation's first step on our GPT-2: a fresh KV cache filled with the prompt, logits of
    the last position only."""
    def call():
        cache = model.start(ids.shape[0], ids.shape[1] + 1)
        return model.step(ids, cache)[:, -1]
    return call


class PytransformerEngine:
    """Ours: pytransformer.ops, with weights prepacked (ops.Linear) outside the timed call."""

    def __init__(self, threads: int):
        # The package this file belongs to, not whichever one sys.path would find first.
        sys.path.insert(0, str(_PACKAGE_DIR.parent))
        import pytransformer

        pytransformer.set_num_threads(threads)
        self.pt = pytransformer
        self.ops = pytransformer.ops

    def info(self) -> Dict[str, object]:
        pt = self.pt
        return {"version": pt.__version__, "isa": pt.cpu_isa(),
                "supported_isas": pt.supported_isas(), "num_threads": pt.get_num_threads(),
                "path": str(Path(pt.__file__).parent), "threadpools": threadpools(),
                "env": {k: os.environ.get(k)
                        for k in ("PYTRANSFORMER_ISA",) + OPENBLAS_OVERRIDES + THREAD_VARIABLES}}

    def linear(self, x, weight, bias, activation=None):
        packed = self.ops.Linear(weight, bias, activation)  # load-time work
        return lambda: packed(x)

    def layer_norm(self, x, weight, bias, residual=None):
        return lambda: self.ops.layer_norm(x, weight, bias, residual=residual)

    def softmax(self, x):
        return lambda: self.ops.softmax(x)

    def activation(self, x, kind):
        if kind == "gelu_tanh":
            return lambda: self.ops.gelu(x, approximate="tanh")
        function = {"gelu": self.ops.gelu, "silu": self.ops.silu}[kind]
        return lambda: function(x)

    def attention(self, q, k, v, key_padding_mask=None, causal=False):
        return lambda: self.ops.scaled_dot_product_attention(
            q, k, v, key_padding_mask=key_padding_mask, causal=causal)

    def rotary(self, x, positions):
        return lambda: self.ops.rotary_embedding(x, positions)

    def embedding(self, ids, table):
        return lambda: self.ops.embedding(ids, table)

    def encode_minilm(self, ids, attention_mask):
        from . import models

        model = self.pt.load(models.minilm_path())
        return lambda: model.encode(ids, attention_mask)

    def transformer_base(self, src, tgt, src_padding):
        from . import models

        config = self.pt.ModelConfig(**models.transformer_base_config())
        model = self.pt.models.EncoderDecoder(config, models.transformer_base_tensors())
        return lambda: model.forward(src, tgt, attention_mask=~src_padding)

    def generate_gpt2(self, ids, max_new_tokens):
        model = self.pt.load(peers.gpt2_path())
        # eos_token_id=[]: no EOS, so exactly max_new_tokens new tokens per row.
        return lambda: model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                                      num_beams=1, eos_token_id=[])[:, ids.shape[1]:]

    def prefill_gpt2(self, ids):
        return _prefill_call(self.pt.load(peers.gpt2_path()), ids)


class PytransformerInt8Engine:
    """Ours with compute_type="int8" (every Linear quantized at load, pytransformer/quantize.py):
    the model-level cases only, against the peers' int8 engines."""

    def __init__(self, threads: int):
        self.ours = PytransformerEngine(threads)
        self.pt = self.ours.pt

    def info(self) -> Dict[str, object]:
        return {**self.ours.info(), "int8_kernel": self.pt._core.int8_kernel()}

    def encode_minilm(self, ids, attention_mask):
        from . import models

        model = self.pt.load(models.minilm_path(), compute_type="int8")
        return lambda: model.encode(ids, attention_mask)

    def generate_gpt2(self, ids, max_new_tokens):
        model = self.pt.load(peers.gpt2_path(), compute_type="int8")
        return lambda: model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                                      num_beams=1, eos_token_id=[])[:, ids.shape[1]:]

    def prefill_gpt2(self, ids):
        return _prefill_call(self.pt.load(peers.gpt2_path(), compute_type="int8"), ids)


class TorchEngine:
    """PyTorch eager (the CPU build): Hugging Face transformers for BERT, torch.nn.Transformer
    for the 2017 model, under inference_mode."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch

    def info(self) -> Dict[str, object]:
        return {"torch": self.torch.__version__, "threads": self.torch.get_num_threads(),
                "threadpools": threadpools()}

    def encode_minilm(self, ids, attention_mask):
        import transformers

        from . import models

        model = transformers.BertModel.from_pretrained(models.minilm_path(), add_pooling_layer=False).eval()
        inputs = {"input_ids": self.torch.from_numpy(ids), "attention_mask": self.torch.from_numpy(attention_mask)}

        def call():
            with self.torch.inference_mode():
                return model(**inputs).last_hidden_state.numpy()
        return call

    def _gpt2(self):
        import transformers

        model = transformers.GPT2LMHeadModel.from_pretrained(peers.gpt2_path()).eval()
        # No EOS (exactly max_new_tokens new tokens), greedy, no padding token to warn about.
        config = model.generation_config
        config.eos_token_id = None
        config.pad_token_id = None
        config.do_sample, config.num_beams = False, 1
        return model

    def generate_gpt2(self, ids, max_new_tokens):
        model = self._gpt2()
        input_ids = self.torch.from_numpy(ids)
        mask = self.torch.ones_like(input_ids)

        def call():
            with self.torch.inference_mode():
                out = model.generate(input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                     min_new_tokens=0, do_sample=False, num_beams=1)
            return out[:, ids.shape[1]:].numpy()
        return call

    def prefill_gpt2(self, ids):
        model = self._gpt2()
        input_ids = self.torch.from_numpy(ids)

        def call():
            # As generate's first step: the KV cache filled, logits of the last position only.
            with self.torch.inference_mode():
                out = model(input_ids, use_cache=True, logits_to_keep=1)
            return out.logits[:, -1].numpy()
        return call

    def transformer_base(self, src, tgt, src_padding):
        from . import models

        torch = self.torch
        c = models.TRANSFORMER_BASE
        t = {k: torch.from_numpy(v) for k, v in models.transformer_base_tensors().items()}
        model = torch.nn.Transformer(c["d_model"], c["heads"], c["layers"], c["layers"], c["ffn"],
                                     dropout=0.0, batch_first=True).eval()
        _load_canonical_into_nn_transformer(model, t, c["layers"])
        import math

        import numpy

        positions = numpy.empty((c["max_positions"], c["d_model"]), numpy.float32)
        angle = numpy.arange(c["max_positions"])[:, None] / 10000.0 ** (2 * (numpy.arange(c["d_model"]) // 2) / c["d_model"])
        positions[:, 0::2], positions[:, 1::2] = numpy.sin(angle[:, 0::2]), numpy.cos(angle[:, 1::2])
        positions = torch.from_numpy(positions)
        scale = math.sqrt(c["d_model"])
        src_t, tgt_t = torch.from_numpy(src), torch.from_numpy(tgt)
        padding = torch.from_numpy(src_padding)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        table = t["embed.tokens"]

        def call():
            with torch.inference_mode():
                s = table[src_t] * scale + positions[: src_t.shape[1]]
                g = table[tgt_t] * scale + positions[: tgt_t.shape[1]]
                out = model(s, g, tgt_mask=causal, src_key_padding_mask=padding,
                            memory_key_padding_mask=padding, tgt_is_causal=True)
                return (out @ table.T).numpy()
        return call


def _load_canonical_into_nn_transformer(model, t, layers: int) -> None:
    """Copy canonical tensors (pytransformer/weights.py names) into a torch.nn.Transformer."""
    def put(module, name):
        module.weight.data.copy_(t[name + ".weight"])
        module.bias.data.copy_(t[name + ".bias"])

    def attention(mha, qkv_weight, qkv_bias, out):
        mha.in_proj_weight.data.copy_(qkv_weight)
        mha.in_proj_bias.data.copy_(qkv_bias)
        put(mha.out_proj, out)

    import torch

    for i in range(layers):
        layer, p = model.encoder.layers[i], f"encoder.{i}."
        attention(layer.self_attn, t[p + "attn.qkv.weight"], t[p + "attn.qkv.bias"], p + "attn.out")
        put(layer.linear1, p + "ffn.up"), put(layer.linear2, p + "ffn.down")
        put(layer.norm1, p + "attn_norm"), put(layer.norm2, p + "ffn_norm")
    for i in range(layers):
        layer, p = model.decoder.layers[i], f"decoder.{i}."
        attention(layer.self_attn, t[p + "self_attn.qkv.weight"], t[p + "self_attn.qkv.bias"], p + "self_attn.out")
        attention(layer.multihead_attn,
                  torch.cat([t[p + "cross_attn.q.weight"], t[p + "cross_attn.kv.weight"]]),
                  torch.cat([t[p + "cross_attn.q.bias"], t[p + "cross_attn.kv.bias"]]), p + "cross_attn.out")
        put(layer.linear1, p + "ffn.up"), put(layer.linear2, p + "ffn.down")
        put(layer.norm1, p + "self_attn_norm"), put(layer.norm2, p + "cross_attn_norm")
        put(layer.norm3, p + "ffn_norm")
    put(model.encoder.norm, "encoder.final_norm")
    put(model.decoder.norm, "decoder.final_norm")


@dataclass(frozen=True)
class Engine:
    name: str
    label: str  # column header in the table
    adapter: Callable[[int], object]  # threads -> adapter; called in the worker only
    openblas_overridable: bool = False  # --unset-openblas-overrides applies to its worker
    requires: Tuple[str, ...] = ()  # modules it imports; absent ones take it off the default list
    # int8 (or otherwise quantized) weights: timed beside the others, but its outputs are not
    # held to float32 agreement (bench/bench_int8.py measures its accuracy instead).
    quantized: bool = False

    def available(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)


# The first engine is "ours"; ratios in the table are <other> median / ours median.
ENGINES: Dict[str, Engine] = {
    "pytransformer": Engine("pytransformer", "ours", PytransformerEngine),
    "numpy": Engine("numpy", "numpy", NumpyEngine, openblas_overridable=True),
    "torch": Engine("torch", "torch", TorchEngine, requires=("torch", "transformers")),
    # Peers (peers.py). Preparing their models (ONNX export, CTranslate2 conversion, the random
    # GPT-2) runs in a child process and needs torch and transformers as well.
    "onnxruntime": Engine("onnxruntime", "ort", peers.OnnxRuntimeEngine,
                          requires=("onnxruntime", "onnx", "torch", "transformers")),
    "ctranslate2": Engine("ctranslate2", "ct2", peers.CTranslate2Engine,
                          requires=("ctranslate2", "torch", "transformers")),
    # int8 (issue #6): ours, ONNX Runtime's dynamic quantization, CTranslate2's int8 type.
    "pytransformer_int8": Engine("pytransformer_int8", "ours-int8", PytransformerInt8Engine,
                                 quantized=True),
    "onnxruntime_int8": Engine("onnxruntime_int8", "ort-int8", peers.OnnxRuntimeInt8Engine,
                               requires=("onnxruntime", "onnx", "torch", "transformers"),
                               quantized=True),
    "ctranslate2_int8": Engine("ctranslate2_int8", "ct2-int8", peers.CTranslate2Int8Engine,
                               requires=("ctranslate2", "torch", "transformers"), quantized=True),
}
OURS = "pytransformer"


def worker_environment(engine: Engine, threads: int, base: Mapping[str, str],
                       unset_openblas_overrides: bool) -> Tuple[Dict[str, str], list]:
    """The environment of the worker running ``engine`` with ``threads`` threads, and the names
    of the variables removed from it."""
    env = dict(base)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    removed = []
    if unset_openblas_overrides and engine.openblas_overridable:
        removed = [name for name in OPENBLAS_OVERRIDES if env.pop(name, None) is not None]
    return env, removed
