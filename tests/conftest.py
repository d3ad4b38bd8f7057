"""Shared fixtures: every kernel test runs once per ISA this CPU supports (forced through
``_core.set_isa``), with a seeded random generator."""

import numpy as np
import pytest

import pytransformer
from pytransformer import _core

# fp32 kernels must match PyTorch / the NumPy reference within this (absolute, unit-scale data).
ATOL = 1e-4


@pytest.fixture(params=pytransformer.supported_isas())
def isa(request):
    """Run the test with the kernels of one ISA, restoring the original choice afterwards."""
    original = _core.cpu_isa()
    _core.set_isa(request.param)
    try:
        yield request.param
    finally:
        _core.set_isa(original)


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


def assert_close(actual, expected, atol=ATOL):
    """Same shape, float32 result, max abs difference <= atol (NaNs must coincide)."""
    actual = np.asarray(actual)
    assert actual.dtype == np.float32, actual.dtype
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float32), rtol=0, atol=atol)
