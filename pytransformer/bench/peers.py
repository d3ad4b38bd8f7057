"""The peer engines: ONNX Runtime and CTranslate2 (PyTorch is in ``engines.py``), and the model
files every engine's model-level cases share.

Models are prepared once and cached on disk (``cache_dir()``: ``$PYTRANSFORMER_BENCH_CACHE`` or
``~/.cache/pytransformer-bench``), in folders whose names carry the versions of what made them,
so an upgrade prepares afresh instead of reusing a stale file:

  gpt2-small-seed0-torch*-transformers*/     random-init GPT2LMHeadModel(GPT2Config()), safetensors,
                                             with a word-level tokenizer (token "t<id>" = id) so
                                             CTranslate2's converter, which needs one, can run
  minilm-onnx-torch*-transformers*-ort*/      MiniLM BertModel, torch.onnx.export + ORT's optimizer
  minilm-onnx-...-int8-per-channel/           that graph through ORT's quantize_dynamic
  minilm-ct2-*/, gpt2-small-seed0-...-ct2-*/  CTranslate2 float32 conversions (the int8 engine
                                             quantizes them at load)

Preparing needs torch and transformers, so it runs in a child process (``prepare.py``, as a
script): the ONNX Runtime and CTranslate2 workers never import torch, and nothing of the export
stays in a timed process. Only the first worker to need a folder pays for it (the driver sets
workers up one at a time); the folder is renamed into place when complete.

Standard library only at the top: this module is loaded by every worker.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

PREPARE_SCRIPT = Path(__file__).resolve().parent / "prepare.py"
GPT2_SEED = 0


def cache_dir() -> Path:
    return Path(os.environ.get("PYTRANSFORMER_BENCH_CACHE")
                or Path.home() / ".cache" / "pytransformer-bench")


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return re.sub(r"[^0-9A-Za-z.]+", "_", version(distribution))
    except PackageNotFoundError:
        return "none"


def _ensure(kind: str, source: str, name: str) -> Path:
    """The cached folder ``name``, made by ``prepare.py kind source`` if missing."""
    out = cache_dir() / name
    if not (out / "DONE").is_file():
        done = subprocess.run([sys.executable, str(PREPARE_SCRIPT), kind, source, str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0 or not (out / "DONE").is_file():
            raise RuntimeError(f"preparing {out} ({kind} from {source}) failed:\n{done.stdout}")
    return out


def _torch_key() -> str:
    return f"torch{_version('torch')}-transformers{_version('transformers')}"


def gpt2_path() -> Path:
    """GPT-2 small, random weights (torch seed GPT2_SEED), a Hugging Face folder."""
    return _ensure("gpt2-random", str(GPT2_SEED), f"gpt2-small-seed{GPT2_SEED}-{_torch_key()}")


def minilm_onnx_path() -> Path:
    from . import models

    return _ensure("onnx-bert", str(models.minilm_path()),
                   f"minilm-onnx-{_torch_key()}-ort{_version('onnxruntime')}"
                   f"-onnx{_version('onnx')}") / "model-optimized.onnx"


def minilm_onnx_int8_path() -> Path:
    """The optimized MiniLM graph through onnxruntime.quantization.quantize_dynamic: int8
    weights per output channel, activations quantized at run time (ORT's dynamic int8)."""
    source = minilm_onnx_path()
    return _ensure("onnx-int8", str(source), f"{source.parent.name}-int8-per-channel") \
        / "model-int8.onnx"


def ct2_path(model: str) -> Path:
    """model: "minilm" or "gpt2"."""
    from . import models

    source = models.minilm_path() if model == "minilm" else gpt2_path()
    name = "minilm" if model == "minilm" else source.name
    return _ensure("ct2", str(source), f"{name}-ct2-{_version('ctranslate2')}")


def _threadpools() -> list:
    from .engines import threadpools

    return threadpools()


class OnnxRuntimeEngine:
    """ONNX Runtime, CPU execution provider: MiniLM as the transformers optimizer's fp32
    "bert-optimized" graph (fused attention, skip layer norm, bias GELU)."""

    def __init__(self, threads: int):
        import onnxruntime

        self.ort = onnxruntime
        self.threads = threads

    def info(self) -> Dict[str, object]:
        return {"onnxruntime": self.ort.__version__, "threads": self.threads,
                "providers": self.ort.get_available_providers(),
                "torch_imported": "torch" in sys.modules, "threadpools": _threadpools()}

    def _session(self, path: Path):
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self.ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _minilm(self) -> Path:
        return minilm_onnx_path()

    def encode_minilm(self, ids, attention_mask):
        import numpy as np

        session = self._session(self._minilm())
        names = {i.name for i in session.get_inputs()}
        feeds = {"input_ids": ids, "attention_mask": attention_mask,
                 "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in names}
        return lambda: session.run(["last_hidden_state"], feeds)[0]


class OnnxRuntimeInt8Engine(OnnxRuntimeEngine):
    """ONNX Runtime on MiniLM's optimized graph quantized by quantize_dynamic (per channel)."""

    def _minilm(self) -> Path:
        return minilm_onnx_int8_path()


class CTranslate2Engine:
    """CTranslate2 on CPU, float32 weights: ctranslate2.Encoder for MiniLM (its
    last_hidden_state), ctranslate2.Generator for GPT-2 (greedy, sampling_topk=1)."""

    compute_type = "float32"

    def __init__(self, threads: int):
        import ctranslate2

        self.ct2 = ctranslate2
        self.threads = threads

    def info(self) -> Dict[str, object]:
        return {"ctranslate2": self.ct2.__version__, "threads": self.threads,
                "cpu_compute_types": sorted(self.ct2.get_supported_compute_types("cpu")),
                "torch_imported": "torch" in sys.modules, "threadpools": _threadpools()}

    def _load(self, kind, model: str):
        return kind(str(ct2_path(model)), device="cpu", compute_type=self.compute_type,
                    inter_threads=1, intra_threads=self.threads)

    def encode_minilm(self, ids, attention_mask):
        import numpy as np

        encoder = self._load(self.ct2.Encoder, "minilm")
        # Every case sequence is unpadded (lengths = T), so the dense array is exact.
        inputs = self.ct2.StorageView.from_array(np.ascontiguousarray(ids, np.int32))
        lengths = self.ct2.StorageView.from_array(attention_mask.sum(1).astype(np.int32))
        return lambda: np.array(encoder.forward_batch(inputs, lengths).last_hidden_state)

    def generate_gpt2(self, ids, max_new_tokens):
        import numpy as np

        generator = self._load(self.ct2.Generator, "gpt2")
        prompts = _token_strings(ids)

        def call():
            # include_prompt_in_result=False: the prompt goes through the decoder in one pass
            # (the KV cache's prefill), as ours and transformers do. end_token=[]: no EOS.
            results = generator.generate_batch(
                prompts, max_length=max_new_tokens, min_length=max_new_tokens,
                sampling_topk=1, beam_size=1, end_token=[], include_prompt_in_result=False)
            return np.array([r.sequences_ids[0] for r in results], np.int64)
        return call

    def prefill_gpt2(self, ids):
        import numpy as np

        generator = self._load(self.ct2.Generator, "gpt2")
        prompts = _token_strings(ids)

        def call():
            # One generated token: the prompt's forward (all but its last token fill the cache,
            # the last one is the first decoding step) and the last position's logits only,
            # which is the work the case counts. Generator.forward_batch would compute the
            # vocabulary projection of every position. return_logits_vocab gives that step's
            # logits over the vocabulary.
            results = generator.generate_batch(
                prompts, max_length=1, sampling_topk=1, beam_size=1, end_token=[],
                include_prompt_in_result=False, return_logits_vocab=True)
            return np.stack([np.array(r.logits[0][0]) for r in results])
        return call


class CTranslate2Int8Engine(CTranslate2Engine):
    """CTranslate2 with compute_type="int8": the float32 conversion quantized at load (int8
    weights per output channel, int8 GEMMs)."""

    compute_type = "int8"


def _token_strings(ids) -> List[List[str]]:
    """CTranslate2 takes tokens as strings: the benchmark GPT-2's vocabulary is "t<id>"."""
    return [[f"t{int(i)}" for i in row] for row in ids]
