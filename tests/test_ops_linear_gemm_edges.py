"""GEMM tile edges: ops.Linear vs reference.linear on every ISA this CPU runs.

Sizes sit below, on and just past the vector width (8, 16), the register tile and the cache
blocks, so every short-row, short-column and short-depth path of the kernel is exercised, with
and without bias and residual, for every fused activation, and for 1 and several threads.
"""
import numpy as np
import pytest

import pytransformer
from pytransformer import _core, ops, reference

ISAS = pytransformer.supported_isas()
EDGES = [1, 7, 13, 15, 16, 17, 31, 33, 255, 257, 385, 1000]
ACTIVATIONS = [None, "relu", "gelu", "gelu_tanh", "silu"]

# Each edge size in turn as M, N and K, the other two small; then some larger mixes.
SHAPES = sorted({(s, 33, 17) for s in EDGES} | {(17, s, 31) for s in EDGES}
                | {(7, 16, s) for s in EDGES}
                | {(1, 1, 1), (16, 16, 16), (33, 257, 255), (257, 31, 1000), (1000, 17, 257),
                   (8, 1000, 257), (4, 255, 1000), (255, 1000, 33)})


@pytest.fixture(params=ISAS)
def isa(request):
    previous = pytransformer.cpu_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(previous)


def run_and_check(shape, activation, with_bias, with_residual, seed=0):
    m, n, k = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32) if with_bias else None
    r = rng.standard_normal((m, n), dtype=np.float32) if with_residual else None
    got = ops.Linear(w, b, activation)(x, r)
    with np.errstate(over="ignore"):  # silu's exp(-x) overflows to inf for x << 0: still exact
        want = reference.linear(x, w, b, activation)
    if r is not None:
        want = want + r
    # Unit-normal inputs: outputs scale as sqrt(K), and so does the rounding error.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes(isa, shape):
    run_and_check(shape, None, True, False)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("with_residual", [False, True], ids=["nores", "res"])
@pytest.mark.parametrize("shape", [(1, 33, 17), (17, 255, 31), (257, 17, 1000), (31, 1000, 257)],
                         ids=lambda s: "x".join(map(str, s)))
def test_epilogue(isa, shape, activation, with_bias, with_residual):
    run_and_check(shape, activation, with_bias, with_residual, seed=1)


# Outputs of 4 MiB and more are written past the caches (streaming stores, whole aligned vectors
# only): rows of 1000 floats alternate between aligned and unaligned starts, and K = 1000 takes
# two depth blocks, the first stored normally and the last streamed over it.
@pytest.mark.parametrize("activation", [None, "gelu"], ids=str)
@pytest.mark.parametrize("shape", [(1100, 1000, 33), (1050, 1000, 1000)],
                         ids=lambda s: "x".join(map(str, s)))
def test_streamed_output(isa, shape, activation):
    run_and_check(shape, activation, True, True, seed=3)


# (500, 1000, 300) and (520, 1600, 130): one row block per thread (2 or 3 threads), whose rows
# are packed once for several depth blocks and shared by the tasks (gemm_tasks.h).
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 1000, 257), (8, 257, 1000), (100, 257, 1000), (1000, 255, 257),
                                   (16, 17, 33), (500, 1000, 300), (520, 1600, 130)],
                         ids=lambda s: "x".join(map(str, s)))
def test_threads(isa, shape, threads):
    previous = pytransformer.get_num_threads()
    pytransformer.set_num_threads(threads)
    try:
        run_and_check(shape, "gelu", True, True, seed=2)
    finally:
        pytransformer.set_num_threads(previous)


# A decode step (at most one register tile of rows: 12 with AVX-512, 6 with AVX2) reads its
# rows where they lie, each row count its own instantiation of the micro-kernel. K = 771 leaves
# a remainder past the interleaved depth streams; 2 threads slice the panels between them.
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m", range(1, 14))
def test_decode_rows(isa, m, threads):
    previous = pytransformer.get_num_threads()
    pytransformer.set_num_threads(threads)
    try:
        run_and_check((m, 1000, 771), "gelu", True, True, seed=4)
    finally:
        pytransformer.set_num_threads(previous)
