"""ISA selection (and the PYTRANSFORMER_ISA override), thread count, thread-count invariance
and concurrent use from Python threads (the GIL is released inside the kernels), and the
cache-line aligned arrays of _core.empty."""

import ast
import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

import pytransformer
from pytransformer import _core, ops, reference

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cpu_isa_is_supported():
    isas = pytransformer.supported_isas()
    assert pytransformer.cpu_isa() in isas
    assert isas[-1] == "scalar"
    assert set(isas) <= {"avx512", "avx2", "scalar"}
    assert len(set(isas)) == len(isas)


def test_default_isa_is_the_best(monkeypatch):
    if os.environ.get("PYTRANSFORMER_ISA"):
        pytest.skip("PYTRANSFORMER_ISA is set for this run")
    assert run_import("pytransformer.cpu_isa()").stdout.strip() == pytransformer.supported_isas()[0]


def test_set_isa_switches_and_rejects_unknown(isa):
    assert pytransformer.cpu_isa() == isa
    with pytest.raises(ValueError):
        _core.set_isa("neon")
    assert pytransformer.cpu_isa() == isa


def run_import(expression, **env):
    """A fresh interpreter, in the repository root so it imports this same package."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("PYTRANSFORMER_ISA", "PYTRANSFORMER_INT8_KERNEL")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", f"import pytransformer; print({expression})"],
                          cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["scalar", "avx2", "avx512", " AVX2 "])
def test_isa_environment_override(name):
    wanted = name.strip().lower()
    if wanted not in pytransformer.supported_isas():
        pytest.skip(f"this CPU cannot run {wanted}")
    result = run_import("(pytransformer.cpu_isa(), pytransformer.__file__)", PYTRANSFORMER_ISA=name)
    assert result.returncode == 0, result.stderr
    isa, path = ast.literal_eval(result.stdout)
    assert isa == wanted
    assert pathlib.Path(path).resolve().parent == pathlib.Path(pytransformer.__file__).resolve().parent


@pytest.mark.parametrize("name", ["bogus", "neon"])
def test_isa_environment_override_rejects_unknown(name):
    result = run_import("pytransformer.cpu_isa()", PYTRANSFORMER_ISA=name)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "PYTRANSFORMER_ISA" in result.stderr


@pytest.mark.parametrize("kernel", _core.supported_int8_kernels())
def test_set_int8_kernel_picks_the_variant_of_new_int8_layers(kernel, rng):
    default = _core.int8_kernel()
    w = rng.standard_normal((40, 64)).astype(np.float32)
    x = rng.standard_normal((20, 64)).astype(np.float32)
    try:
        _core.set_int8_kernel(kernel)
        assert _core.int8_kernel() == kernel
        layer = ops.LinearInt8(w)
        assert layer.kernel == kernel
        np.testing.assert_array_equal(layer.accumulators(x),
                                      ops.LinearInt8(w, kernel="scalar").accumulators(x))
    finally:
        _core.set_int8_kernel(None)
    assert _core.int8_kernel() == default
    assert layer.kernel == kernel  # a layer keeps the variant it was packed for


def test_set_int8_kernel_rejects_unknown_names():
    with pytest.raises(ValueError, match="avx512_vnni"):
        _core.set_int8_kernel("neon")
    assert _core.int8_kernel() in _core.supported_int8_kernels()


def test_int8_kernel_environment_override():
    kernels = _core.supported_int8_kernels()
    wanted = kernels[-2] if len(kernels) > 1 else kernels[0]  # not the default, given a choice
    result = run_import("pytransformer._core.int8_kernel()", PYTRANSFORMER_INT8_KERNEL=wanted)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == wanted
    bogus = run_import("pytransformer._core.int8_kernel()", PYTRANSFORMER_INT8_KERNEL="bogus")
    assert bogus.returncode != 0
    assert "ImportError" in bogus.stderr and "PYTRANSFORMER_INT8_KERNEL" in bogus.stderr


def test_isa_environment_override_rejects_unsupported():
    missing = [i for i in ("avx512", "avx2") if i not in pytransformer.supported_isas()]
    if not missing:
        pytest.skip("this CPU supports every ISA")
    result = run_import("pytransformer.cpu_isa()", PYTRANSFORMER_ISA=missing[0])
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "PYTRANSFORMER_ISA" in result.stderr


@pytest.fixture
def restore_threads():
    original = pytransformer.get_num_threads()
    yield
    pytransformer.set_num_threads(original)


def test_num_threads_round_trip(restore_threads):
    assert pytransformer.get_num_threads() >= 1
    for n in (1, 3, 2):
        pytransformer.set_num_threads(n)
        assert pytransformer.get_num_threads() == n


@pytest.mark.parametrize("n,error", [(0, ValueError), (-1, ValueError), ("2", TypeError),
                                     (2.0, TypeError), (True, TypeError), (None, TypeError),
                                     # more than 4 per logical CPU: a million crashed in libgomp
                                     (4 * os.cpu_count() + 1, ValueError), (10**6, ValueError),
                                     (2**40, ValueError)])
def test_set_num_threads_rejects(restore_threads, n, error):
    before = pytransformer.get_num_threads()
    with pytest.raises(error, match="^n:"):
        pytransformer.set_num_threads(n)
    assert pytransformer.get_num_threads() == before


def test_results_do_not_depend_on_thread_count(isa, rng, restore_threads):
    x = rng.standard_normal((4096, 384), dtype=np.float32)
    residual = rng.standard_normal((4096, 384), dtype=np.float32)
    gamma = rng.standard_normal(384, dtype=np.float32)
    beta = rng.standard_normal(384, dtype=np.float32)
    w = (rng.standard_normal((96, 384)) / np.sqrt(384)).astype(np.float32)
    b = rng.standard_normal(96, dtype=np.float32)
    layer = ops.Linear(w, b, "gelu")

    def run():
        return (ops.layer_norm(x, gamma, beta, residual=residual), layer(x),
                ops.softmax(x), ops.silu(x), ops.rms_norm(x, gamma))

    pytransformer.set_num_threads(1)
    single = run()
    pytransformer.set_num_threads(2)
    double = run()
    for one, two in zip(single, double):
        np.testing.assert_allclose(one, two, rtol=0, atol=1e-6)


def test_gil_is_released_for_concurrent_calls(rng, restore_threads):
    """Two Python threads run big GEMMs at once; both results must be right."""
    pytransformer.set_num_threads(1)
    xs = [rng.standard_normal((1024, 384), dtype=np.float32) for _ in range(2)]
    w = (rng.standard_normal((384, 384)) / np.sqrt(384)).astype(np.float32)
    layer = ops.Linear(w, None, "relu")
    results = [None, None]
    barrier = threading.Barrier(2)

    def work(i):
        barrier.wait()
        for _ in range(3):
            results[i] = layer(xs[i])
        results[i] = (results[i], ops.layer_norm(xs[i], w[0], None))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i in range(2):
        np.testing.assert_allclose(results[i][0], reference.linear(xs[i], w, None, "relu"), rtol=0, atol=1e-4)
        np.testing.assert_allclose(results[i][1], reference.layer_norm(xs[i], w[0]), rtol=0, atol=1e-4)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (32, 128, 12, 32), (0, 5), (4097, 1536)])
def test_empty_is_float32_contiguous_and_cache_line_aligned(shape):
    # NumPy alone puts large arrays 16 bytes past a cache line; ours must not.
    a = _core.empty(shape)
    assert a.shape == shape and a.dtype == np.float32
    assert a.flags["C_CONTIGUOUS"] and a.flags["WRITEABLE"]
    if a.size:
        assert a.ctypes.data % 64 == 0
    a[...] = 1.0  # the whole view is usable memory
    assert a.sum() == a.size


def test_empty_rejects_negative_dimensions():
    with pytest.raises(ValueError, match="shape"):
        _core.empty((2, -1))
