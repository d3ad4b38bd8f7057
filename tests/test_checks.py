"""The conversion rules of the Python boundary (pytransformer._checks), which every op relies on:
float dtypes -> C-contiguous float32, integer dtypes -> int64, masks must be bool."""

import numpy as np
import pytest

from pytransformer import _checks


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (4, 5)])
def test_floats_converts_and_keeps_shape(dtype, shape):
    value = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    out = _checks.floats(value, "x")
    assert out.dtype == np.float32 and out.shape == shape and out.flags.c_contiguous
    np.testing.assert_array_equal(out, value.astype(np.float32))


def test_floats_makes_views_contiguous_and_keeps_contiguous_float32_as_is():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert _checks.floats(base, "x") is base  # no copy when nothing needs converting
    for view in (base.T, base[:, ::2], base[::-1]):
        out = _checks.floats(view, "x")
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize("value", [np.ones(2, np.int8), np.ones(2, np.uint64), np.ones(2, bool),
                                   np.ones(2, object), np.ones(2, np.complex128), ["a"], [1, 2], None],
                         ids=["int8", "uint64", "bool", "object", "complex", "str", "int-list", "None"])
def test_floats_rejects(value):
    with pytest.raises(TypeError, match="^weight:"):
        _checks.floats(value, "weight")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_integers_converts_every_int_dtype(dtype):
    out = _checks.integers(np.arange(6, dtype=dtype).reshape(2, 3).T, "ids")
    assert out.dtype == np.int64 and out.flags.c_contiguous and out.shape == (3, 2)
    assert _checks.integers(np.array(7, dtype), "ids").shape == ()


@pytest.mark.parametrize("value", [np.ones(2, np.float32), np.ones(2, bool), [0.5], np.ones(2, object)],
                         ids=["float", "bool", "float-list", "object"])
def test_integers_rejects(value):
    with pytest.raises(TypeError, match="^ids:"):
        _checks.integers(value, "ids")


def test_mask_must_be_bool():
    mask = np.array([[True, False]])
    assert _checks.mask(mask, "key_padding_mask").dtype == np.bool_
    assert _checks.mask(mask.T, "key_padding_mask").flags.c_contiguous
    for wrong in (np.ones((1, 2), np.uint8), np.ones((1, 2), np.float32), [[1, 0]]):
        with pytest.raises(TypeError, match="^key_padding_mask:"):
            _checks.mask(wrong, "key_padding_mask")


def test_rank_positive_int_and_real():
    with pytest.raises(ValueError, match=r"^w: expected a 2-D array \[out, in\], got shape \(3,\)"):
        _checks.rank(np.ones(3), "w", 2, "[out, in]")
    assert _checks.positive_int(np.int16(3), "n") == 3
    for bad, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError)):
        with pytest.raises(error, match="^n:"):
            _checks.positive_int(bad, "n")
    assert _checks.real(np.float16(0.5), "eps") == 0.5 and _checks.real(2, "eps") == 2.0
    for bad in (None, "1e-5", np.bool_(True), 1j):
        with pytest.raises(TypeError, match="^eps:"):
            _checks.real(bad, "eps")


def test_integers_reports_uint64_values_past_int64_as_they_are():
    np.testing.assert_array_equal(_checks.integers(np.array([0, 2**63 - 1], np.uint64), "ids"),
                                  [0, 2**63 - 1])
    with pytest.raises(ValueError, match=f"^ids: value {2**64 - 1} exceeds the int64 range"):
        _checks.integers(np.array([1, 2**64 - 1], np.uint64), "ids")  # not wrapped to -1


def test_integer_and_finite():
    assert _checks.integer(np.int8(0), "k", 0) == 0 and _checks.integer(7, "k", 1) == 7
    for bad, minimum, error, message in ((-1, 0, ValueError, "a non-negative int, got -1"),
                                         (0, 1, ValueError, "a positive int, got 0"),
                                         (False, 0, TypeError, "an int, got bool"),
                                         ("1", 0, TypeError, "an int, got str")):
        with pytest.raises(error, match=f"^k: expected {message}"):
            _checks.integer(bad, "k", minimum)
    assert _checks.finite(np.float32(-2.5), "p") == -2.5
    for bad in (float("nan"), float("inf"), -np.inf):
        with pytest.raises(ValueError, match="^p: expected a finite number"):
            _checks.finite(bad, "p")
    with pytest.raises(TypeError, match="^p: expected a number"):
        _checks.finite("1", "p")
