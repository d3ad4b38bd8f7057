"""linear / Linear vs the NumPy reference and torch.nn.functional.linear, on every ISA.

Weights are drawn as N(0, 1/K) (PyTorch's default init scale) so every output is unit-scale
whatever K is: the 1e-4 absolute tolerance then needs no sqrt(K) factor. The GEMM tile edges
(K and N below / equal to / past the vector widths 8 and 16 and the register tiles) are in
DIMS; the deep GEMM edge cases are in test_ops_linear_gemm_edges.py.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_close
from pytransformer import ops, reference

DIMS = [1, 3, 15, 16, 17, 33, 100, 384, 1000]
ACTIVATIONS = [None, "relu", "gelu", "gelu_tanh", "silu"]


def make(rng, m, k, n, bias=True):
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    b = rng.standard_normal(n, dtype=np.float32) if bias else None
    return x, w, b


def torch_linear(x, w, b, activation):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    y = F.linear(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b))
    act = {None: lambda t: t, "relu": F.relu, "gelu": F.gelu,
           "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu}[activation]
    return act(y).numpy()


@pytest.mark.parametrize("k", DIMS)
@pytest.mark.parametrize("n", DIMS)
def test_linear_matches_reference_over_k_and_n(isa, rng, k, n):
    x, w, b = make(rng, 7, k, n)
    assert_close(ops.linear(x, w, b), reference.linear(x, w, b))


@pytest.mark.parametrize("m", [1, 2, 5, 6, 12, 13, 64, 193])
def test_linear_matches_reference_over_rows(isa, rng, m):
    x, w, b = make(rng, m, 33, 17)
    assert_close(ops.linear(x, w, b), reference.linear(x, w, b))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("m,k,n", [(1, 16, 1), (5, 33, 17), (13, 100, 384), (3, 1000, 15)])
def test_linear_matches_torch(isa, rng, activation, bias, m, k, n):
    x, w, b = make(rng, m, k, n, bias)
    expected = torch_linear(x, w, b, activation)
    assert_close(ops.linear(x, w, b, activation), expected)
    assert_close(reference.linear(x, w, b, activation), expected)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_linear_residual_is_added_after_the_activation(isa, rng, activation):
    x, w, b = make(rng, 9, 33, 17)
    residual = rng.standard_normal((9, 17), dtype=np.float32)
    layer = ops.Linear(w, b, activation)
    expected = torch_linear(x, w, b, activation) + residual
    assert_close(layer(x, residual=residual), expected)
    assert_close(layer(x), expected - residual)


def test_linear_leading_batch_dims(isa, rng):
    x = rng.standard_normal((2, 3, 5, 17), dtype=np.float32)
    _, w, b = make(rng, 1, 17, 33)
    residual = rng.standard_normal((2, 3, 5, 33), dtype=np.float32)
    out = ops.Linear(w, b, "gelu")(x, residual=residual)
    assert out.shape == (2, 3, 5, 33)
    assert_close(out, torch_linear(x.reshape(-1, 17), w, b, "gelu").reshape(2, 3, 5, 33) + residual)


def test_linear_one_dimensional_input(isa, rng):
    x, w, b = make(rng, 1, 15, 16)
    out = ops.linear(x[0], w, b)
    assert out.shape == (16,)
    assert_close(out, reference.linear(x, w, b)[0])


def test_linear_no_rows(isa, rng):
    _, w, b = make(rng, 1, 15, 16)
    out = ops.linear(np.zeros((0, 15), np.float32), w, b)
    assert out.shape == (0, 16)


def test_linear_many_rows_threaded(isa, rng):
    """4096 rows: the OpenMP row split of the GEMM (with a residual and an activation)."""
    x, w, b = make(rng, 4096, 384, 48)
    residual = rng.standard_normal((4096, 48), dtype=np.float32)
    out = ops.Linear(w, b, "silu")(x, residual=residual)
    assert_close(out, torch_linear(x, w, b, "silu") + residual)



def test_linear_owns_a_packed_copy_of_its_weight(isa, rng):
    x, w, b = make(rng, 4, 33, 17)
    expected = reference.linear(x, w, b, "relu")
    layer = ops.Linear(w, b, "relu")
    w[:] = 0
    b[:] = 0
    assert_close(layer(x), expected)
    assert layer.in_features == 33 and layer.out_features == 17
    assert "in_features=33" in repr(layer) and "relu" in repr(layer)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(1, 40), k=st.integers(1, 70), n=st.integers(1, 70),
       activation=st.sampled_from(ACTIVATIONS), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_linear_random_shapes(isa, m, k, n, activation, bias, seed):
    x, w, b = make(np.random.default_rng(seed), m, k, n, bias)
    assert_close(ops.linear(x, w, b, activation), reference.linear(x, w, b, activation))


# ---- dtypes, layouts and errors -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_linear_accepts_other_float_dtypes(rng, dtype):
    x, w, b = (a.astype(dtype) for a in make(rng, 5, 17, 33))
    residual = np.ones((5, 33), dtype)
    out = ops.Linear(w, b)(x, residual=residual)
    assert out.dtype == np.float32
    assert_close(out, reference.linear(x, w, b) + 1)


def test_linear_non_contiguous_inputs(isa, rng):
    x, w, b = make(rng, 6, 40, 20)
    x_t = np.asfortranarray(x)  # column-major
    w_t = np.ascontiguousarray(w.T).T  # a transposed view of a [K, N] array
    assert not w_t.flags.c_contiguous
    expected = reference.linear(x, w, b)
    assert_close(ops.linear(x_t, w_t, b), expected)
    strided_b = np.repeat(b, 2)[::2]
    assert_close(ops.linear(x[:, ::2], w[:, ::2], strided_b), reference.linear(x[:, ::2], w[:, ::2], b))
    residual = rng.standard_normal((20, 6), dtype=np.float32)
    assert_close(ops.Linear(w, b)(x, residual=residual.T), expected + residual.T)


BAD_VALUES = {
    "int": lambda a: a.astype(np.int32),
    "bool": lambda a: a > 0,
    "object": lambda a: a.astype(object),
    "complex": lambda a: a.astype(np.complex64),
}


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("argument", ["x", "weight", "bias", "residual"])
def test_linear_rejects_non_float_inputs(rng, kind, argument):
    x, w, b = make(rng, 3, 8, 4)
    args = {"x": x, "weight": w, "bias": b, "residual": np.zeros((3, 4), np.float32)}
    args[argument] = BAD_VALUES[kind](args[argument])
    with pytest.raises(TypeError, match=f"^{argument}:"):
        ops.Linear(args["weight"], args["bias"])(args["x"], residual=args["residual"])


def test_linear_rejects_a_ragged_list():
    with pytest.raises(TypeError, match="^weight:"):
        ops.Linear([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("shape", [(4,), (2, 4, 8), ()])
def test_linear_rejects_weight_rank(rng, shape):
    with pytest.raises(ValueError, match="^weight:"):
        ops.Linear(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(0, 8), (4, 0)])
def test_linear_rejects_empty_weight(shape):
    with pytest.raises(ValueError, match="^weight:"):
        ops.Linear(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(5,), (1, 4), (4, 1)])
def test_linear_rejects_bias_shape(rng, shape):
    with pytest.raises(ValueError, match="^bias:"):
        ops.Linear(np.zeros((4, 8), np.float32), np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(3, 7), (3, 9), (7,), ()])
def test_linear_rejects_x_shape(shape):
    layer = ops.Linear(np.zeros((4, 8), np.float32))
    with pytest.raises(ValueError, match="^x:"):
        layer(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(3, 8), (4, 4), (3, 4, 1), (12,)])
def test_linear_rejects_residual_shape(shape):
    layer = ops.Linear(np.zeros((4, 8), np.float32))
    with pytest.raises(ValueError, match="^residual:"):
        layer(np.zeros((3, 8), np.float32), residual=np.zeros(shape, np.float32))


@pytest.mark.parametrize("activation", ["tanh", "GELU", "", 3, ["relu"]])
def test_linear_rejects_activation(activation):
    with pytest.raises(ValueError, match="^activation:"):
        ops.Linear(np.zeros((4, 8), np.float32), activation=activation)
