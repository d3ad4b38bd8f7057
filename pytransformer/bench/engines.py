"""The engines the benchmark compares, in one place (``ENGINES``).

An engine is an adapter class with one method per case ``op`` (see ``cases.py``): the method
takes the case's inputs and params, does any load-time work (packing weights, building a
session) and returns a zero-argument callable that runs the timed call and returns its
output. An engine without a method for an op skips those cases. A peer (PyTorch, ONNX Runtime,
CTranslate2) is one more adapter class and one more ``ENGINES`` entry.

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


def _load_reference():
    """pytransformer/reference.py as a standalone module: it needs NumPy only, and importing
    the package would load our OpenMP runtime into the NumPy worker."""
    spec = importlib.util.spec_from_file_location("_bench_reference", _PACKAGE_DIR / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NumpyEngine:
    """The plain-NumPy oracle, pytransformer.reference: the baseline every ratio is against."""

    def __init__(self, threads: int):
        import numpy

        self._np = numpy
        self.ref = _load_reference()

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


@dataclass(frozen=True)
class Engine:
    name: str
    label: str  # column header in the table
    adapter: Callable[[int], object]  # threads -> adapter; called in the worker only
    openblas_overridable: bool = False  # --unset-openblas-overrides applies to its worker


# The first engine is "ours"; ratios in the table are <other> median / ours median.
ENGINES: Dict[str, Engine] = {
    "pytransformer": Engine("pytransformer", "ours", PytransformerEngine),
    "numpy": Engine("numpy", "numpy", NumpyEngine, openblas_overridable=True),
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
