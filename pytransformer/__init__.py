"""pytransformer: fast Transformer inference on CPUs, from Python.

The hot path is C++ (``pytransformer._core``): SIMD kernels for AVX-512, AVX2 and a portable
scalar path, chosen at import for the CPU at hand, threaded with OpenMP. This package is the
Python face of it: :mod:`pytransformer.ops` (the functional API), :mod:`pytransformer.reference`
(the same ops in plain NumPy, the oracle of the tests and baseline of the benchmarks).

Environment variables read at import:
  PYTRANSFORMER_ISA   force "avx512", "avx2" or "scalar" (an ISA the CPU lacks is an ImportError)
  PYTRANSFORMER_INT8_KERNEL
                      force an int8 GEMM variant, e.g. "avx512_vnni" where the AMX one is not
                      wanted (one of _core.supported_int8_kernels(); others: ImportError)
  OMP_NUM_THREADS     default thread count (see set_num_threads)
"""

import os as _os

from . import _core

__version__ = "0.1.0"


def _apply_from_environment(variable: str, setter) -> None:
    requested = _os.environ.get(variable, "").strip().lower()
    if not requested:
        return
    try:
        setter(requested)
    except (ValueError, RuntimeError) as error:
        raise ImportError(f"{variable}={requested!r}: {error}") from None


_apply_from_environment("PYTRANSFORMER_ISA", _core.set_isa)
_apply_from_environment("PYTRANSFORMER_INT8_KERNEL", _core.set_int8_kernel)


def cpu_isa() -> str:
    """The instruction set the kernels run with: ``"avx512"``, ``"avx2"`` or ``"scalar"``."""
    return _core.cpu_isa()


def supported_isas() -> list:
    """The instruction sets this CPU can run, best first (``"scalar"`` always last)."""
    return list(_core.supported_isas())


def get_num_threads() -> int:
    """Threads each kernel uses (default: ``OMP_NUM_THREADS``, else the number of cores)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in every later kernel call, from any Python thread."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n: expected at least 1 thread, got {n}")
    _core.set_num_threads(n)


def release_memory() -> int:
    """Gives back to the system the memory kept for reuse: the storage of the last KV cache
    freed, which the next cache of about its size would otherwise take (so that back-to-back
    ``generate`` calls do not fault in a fresh cache). Returns the bytes released. Each thread's
    workspace for a layer's intermediates stays, as long as the thread."""
    return _core.release_spare_kv_storage()


def cuda_available() -> bool:
    """True when this build has the CUDA module (``-Ccmake.define.PYTRANSFORMER_CUDA=ON``) and it
    sees an NVIDIA GPU, so that ``load(..., device="cuda")`` works."""
    from .backends import cuda_available as available

    return available()


from . import ops, reference  # noqa: E402  (after the ISA is chosen)
from .api import load, save  # noqa: E402
from .config import ModelConfig  # noqa: E402
from .convert.torch_nn import export_torch  # noqa: E402  (imports torch only when called)
from .sentence import SentenceEncoder  # noqa: E402
from .text import Generator, Translator  # noqa: E402  (tokenizers imported only when used)

__all__ = [
    "Generator",
    "ModelConfig",
    "Translator",
    "SentenceEncoder",
    "export_torch",
    "load",
    "save",
    "cpu_isa",
    "cuda_available",
    "get_num_threads",
    "ops",
    "reference",
    "release_memory",
    "set_num_threads",
    "supported_isas",
]
