"""embedding and sinusoidal_positions vs the NumPy reference and torch, on every ISA."""

import math

import numpy as np
import pytest

from conftest import assert_close
from pytransformer import ops, reference

DIMS = [1, 3, 15, 16, 17, 33, 100, 384, 1000]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("e", DIMS)
def test_embedding_matches_torch_and_reference(isa, rng, e):
    torch = pytest.importorskip("torch")
    table = rng.standard_normal((50, e), dtype=np.float32)
    ids = rng.integers(0, 50, size=(3, 7))
    out = ops.embedding(ids, table)
    assert out.shape == (3, 7, e)
    expected = torch.nn.functional.embedding(torch.from_numpy(ids), torch.from_numpy(table)).numpy()
    np.testing.assert_array_equal(out, expected)  # a lookup is exact
    np.testing.assert_array_equal(out, reference.embedding(ids, table))


@pytest.mark.parametrize("ids", [np.array(4), np.array([0]), np.array([9, 0, 9]), np.zeros((2, 0), int),
                                 np.arange(10).reshape(2, 1, 5)], ids=["0d", "1", "ends", "empty", "3d"])
def test_embedding_id_shapes(isa, rng, ids):
    table = rng.standard_normal((10, 17), dtype=np.float32)
    out = ops.embedding(ids, table)
    assert out.shape == ids.shape + (17,)
    np.testing.assert_array_equal(out, reference.embedding(ids, table))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_embedding_accepts_every_integer_dtype(isa, rng, dtype):
    table = rng.standard_normal((100, 16), dtype=np.float32)
    ids = rng.integers(0, 100, size=(4, 5)).astype(dtype)
    np.testing.assert_array_equal(ops.embedding(ids, table), reference.embedding(ids, table))
    np.testing.assert_array_equal(ops.embedding(ids.tolist(), table), reference.embedding(ids, table))


def test_embedding_many_ids_threaded(isa, rng):
    table = rng.standard_normal((1000, 384), dtype=np.float32)
    ids = rng.integers(0, 1000, size=(64, 512))
    np.testing.assert_array_equal(ops.embedding(ids, table), reference.embedding(ids, table))


def test_embedding_accepts_other_float_tables_and_views(rng):
    table = rng.standard_normal((20, 34))
    ids = rng.integers(0, 17, size=(2, 3))
    for view in (table.astype(np.float16), table[:, ::2], table.T.copy().T, table[::-1]):
        assert_close(ops.embedding(ids, view), reference.embedding(ids, view))
    ids_view = rng.integers(0, 20, size=(6, 4)).T  # non-contiguous ids
    assert_close(ops.embedding(ids_view, table), reference.embedding(ids_view, table))


@pytest.mark.parametrize("bad_id", [-1, 10, 11, 2**40, -(2**40)])
def test_embedding_rejects_ids_out_of_range(isa, rng, bad_id):
    table = rng.standard_normal((10, 8), dtype=np.float32)
    ids = np.array([[1, 2, 3], [4, bad_id, 5]])
    with pytest.raises(ValueError, match="^ids:"):
        ops.embedding(ids, table)


def test_embedding_rejects_huge_unsigned_ids(rng):
    table = rng.standard_normal((10, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="^ids:"):
        ops.embedding(np.array([2**64 - 1], np.uint64), table)


@pytest.mark.parametrize("ids", [np.ones(3, np.float32), np.ones(3, bool), np.ones(3, object),
                                 np.ones(3, np.complex64), [0.0, 1.0]],
                         ids=["float", "bool", "object", "complex", "float-list"])
def test_embedding_rejects_non_integer_ids(ids):
    with pytest.raises(TypeError, match="^ids:"):
        ops.embedding(ids, np.ones((4, 3), np.float32))


@pytest.mark.parametrize("table", [np.ones((4, 3), np.int32), np.ones((4, 3), bool),
                                   np.ones((4, 3), object), np.ones((4, 3), np.complex64)],
                         ids=["int", "bool", "object", "complex"])
def test_embedding_rejects_non_float_table(table):
    with pytest.raises(TypeError, match="^table:"):
        ops.embedding(np.array([0, 1]), table)


@pytest.mark.parametrize("shape", [(4,), (4, 3, 2), ()])
def test_embedding_rejects_table_rank(shape):
    with pytest.raises(ValueError, match="^table:"):
        ops.embedding(np.array([0]), np.ones(shape, np.float32))


# ---- sinusoidal_positions -------------------------------------------------------------------

def torch_sinusoidal(length, dim):
    """The table of the PyTorch transformer tutorial (even dim), in float64."""
    torch = pytest.importorskip("torch")
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.float().numpy()


@pytest.mark.parametrize("length,dim", [(1, 2), (1, 16), (7, 16), (50, 34), (512, 384), (3, 1000)])
def test_sinusoidal_positions_matches_torch(length, dim):
    out = ops.sinusoidal_positions(length, dim)
    assert out.shape == (length, dim) and out.dtype == np.float32
    assert_close(out, torch_sinusoidal(length, dim), atol=1e-5)


@pytest.mark.parametrize("length,dim", [(1, 1), (5, 3), (9, 15), (100, 17), (4000, 33)])
def test_sinusoidal_positions_matches_reference(length, dim):
    assert_close(ops.sinusoidal_positions(length, dim), reference.sinusoidal_positions(length, dim), atol=1e-6)


def test_sinusoidal_positions_accepts_numpy_ints():
    assert ops.sinusoidal_positions(np.int32(3), np.uint8(4)).shape == (3, 4)


@pytest.mark.parametrize("argument", ["length", "dim"])
@pytest.mark.parametrize("value,error", [(0, ValueError), (-3, ValueError), (2.0, TypeError),
                                         ("4", TypeError), (True, TypeError), (None, TypeError)])
def test_sinusoidal_positions_rejects_bad_sizes(argument, value, error):
    args = {"length": 4, "dim": 8, argument: value}
    with pytest.raises(error, match=f"^{argument}:"):
        ops.sinusoidal_positions(**args)
