"""softmax vs the NumPy reference and torch.softmax, on every axis and ISA, with -inf entries."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_close
from pytransformer import ops, reference

DIMS = [1, 3, 15, 16, 17, 33, 100, 384, 1000]


def torch_softmax(x, axis):
    torch = pytest.importorskip("torch")
    return torch.softmax(torch.from_numpy(np.ascontiguousarray(x)), dim=axis).numpy()


@pytest.mark.parametrize("c", DIMS)
def test_softmax_last_axis(isa, rng, c):
    x = 3 * rng.standard_normal((6, c), dtype=np.float32)
    out = ops.softmax(x)
    assert_close(out, torch_softmax(x, -1))
    assert_close(out, reference.softmax(x))
    assert_close(out.sum(axis=-1), np.ones(6))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_every_axis(isa, rng, axis):
    x = rng.standard_normal((3, 17, 5), dtype=np.float32)
    out = ops.softmax(x, axis=axis)
    assert out.shape == x.shape
    assert_close(out, torch_softmax(x, axis))
    assert_close(out, reference.softmax(x, axis=axis))


def test_softmax_numpy_integer_axis(isa, rng):
    x = rng.standard_normal((4, 5), dtype=np.float32)
    assert_close(ops.softmax(x, axis=np.int64(0)), reference.softmax(x, axis=0))


def test_softmax_large_values_do_not_overflow(isa, rng):
    x = (1000 + 50 * rng.standard_normal((4, 33))).astype(np.float32)
    assert_close(ops.softmax(x), torch_softmax(x, -1))


@pytest.mark.parametrize("c", [3, 16, 17, 33])
def test_softmax_with_minus_inf_entries(isa, rng, c):
    x = rng.standard_normal((5, c), dtype=np.float32)
    x[:, ::2] = -np.inf
    out = ops.softmax(x)
    expected = torch_softmax(x, -1)
    assert_close(out, expected)
    assert np.all(out[:, ::2] == 0)


@pytest.mark.parametrize("c", [1, 7, 16, 17])
def test_softmax_all_minus_inf_row_is_nan(isa, rng, c):
    x = rng.standard_normal((3, c), dtype=np.float32)
    x[1] = -np.inf
    with np.errstate(invalid="ignore"):
        expected = reference.softmax(x)
    out = ops.softmax(x)
    assert np.isnan(out[1]).all()
    assert np.isnan(torch_softmax(x, -1)[1]).all() and np.isnan(expected[1]).all()
    assert_close(out[[0, 2]], expected[[0, 2]])


def test_softmax_many_rows_threaded(isa, rng):
    x = rng.standard_normal((4096, 384), dtype=np.float32)
    assert_close(ops.softmax(x), torch_softmax(x, -1))
    assert_close(ops.softmax(x[:, :100], axis=0), torch_softmax(x[:, :100], 0))


def test_softmax_empty(isa):
    assert ops.softmax(np.zeros((0, 5), np.float32)).shape == (0, 5)
    assert ops.softmax(np.zeros((4, 0), np.float32)).shape == (4, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=4), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_softmax_random_shapes(isa, shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = 4 * np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    assert_close(ops.softmax(x, axis=axis), reference.softmax(x, axis=axis))


# ---- dtypes, layouts and errors -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_softmax_accepts_other_float_dtypes(rng, dtype):
    x = rng.standard_normal((3, 17)).astype(dtype)
    out = ops.softmax(x, axis=0)
    assert out.dtype == np.float32
    assert_close(out, reference.softmax(x, axis=0))


def test_softmax_non_contiguous_inputs(isa, rng):
    base = rng.standard_normal((20, 34), dtype=np.float32)
    for x in (base.T, base[:, ::2], base[::-1, 1::3]):
        assert_close(ops.softmax(x), reference.softmax(x))
        assert_close(ops.softmax(x, axis=0), reference.softmax(x, axis=0))


@pytest.mark.parametrize("x", [np.ones((2, 3), np.int32), np.ones((2, 3), bool),
                               np.ones((2, 3), object), np.ones((2, 3), np.complex64)],
                         ids=["int", "bool", "object", "complex"])
def test_softmax_rejects_non_float_inputs(x):
    with pytest.raises(TypeError, match="^x:"):
        ops.softmax(x)


@pytest.mark.parametrize("axis", [2, -3, 100])
def test_softmax_rejects_axis_out_of_range(axis):
    with pytest.raises(ValueError, match="^axis:"):
        ops.softmax(np.ones((2, 3), np.float32), axis=axis)


def test_softmax_rejects_scalar():
    with pytest.raises(ValueError, match="^axis:"):
        ops.softmax(np.float32(1.0))


@pytest.mark.parametrize("axis", [1.0, "0", None, True])
def test_softmax_rejects_non_int_axis(axis):
    with pytest.raises(TypeError, match="^axis:"):
        ops.softmax(np.ones((2, 3), np.float32), axis=axis)


@pytest.mark.parametrize("c", [3, 16, 17, 33])
def test_softmax_row_holding_nan_is_nan(isa, rng, c):
    """NaN in, NaN out, as in the reference and PyTorch: exp no longer clamps NaN to a finite
    value, which made the rest of the row a finite, wrong distribution."""
    x = rng.standard_normal((3, c), dtype=np.float32)
    x[1, c // 2] = np.nan
    out = ops.softmax(x)
    assert np.isnan(out[1]).all()
    assert np.isnan(torch_softmax(x, -1)[1]).all() and np.isnan(reference.softmax(x)[1]).all()
    assert_close(out[[0, 2]], reference.softmax(x)[[0, 2]])
