"""relu, gelu (exact and tanh), silu and the gated activation vs the NumPy reference and
torch.nn.functional, on every ISA, over lengths around the vector widths and extreme inputs."""

import numpy as np
import pytest

from conftest import assert_close
from pytransformer import _core, ops, reference

DIMS = [1, 3, 15, 16, 17, 33, 100, 384, 1000]
EXTREMES = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 3.0, -3.0, 5.0, -5.0, 10.0, -10.0,
                     20.0, -20.0, 50.0, -50.0, 87.0, -87.0, 89.0, -89.0, 100.0, -100.0,
                     1e4, -1e4, 3e38, -3e38], np.float32)

# name -> (ours, reference, torch builder)
ACTIVATIONS = {
    "relu": (ops.relu, reference.relu, lambda F: F.relu),
    "gelu": (ops.gelu, reference.gelu, lambda F: F.gelu),
    "gelu_tanh": (lambda x: ops.gelu(x, approximate="tanh"), lambda x: reference.gelu(x, "tanh"),
                  lambda F: (lambda t: F.gelu(t, approximate="tanh"))),
    "silu": (ops.silu, reference.silu, lambda F: F.silu),
}


def torch_activation(name, x):
    torch = pytest.importorskip("torch")
    return ACTIVATIONS[name][2](torch.nn.functional)(torch.from_numpy(np.ascontiguousarray(x))).numpy()


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("n", DIMS)
def test_activation_matches_torch_and_reference(isa, rng, name, n):
    ours, ref, _ = ACTIVATIONS[name]
    x = 3 * rng.standard_normal((2, n), dtype=np.float32)
    out = ours(x)
    assert out.shape == x.shape
    assert_close(out, torch_activation(name, x))
    assert_close(out, ref(x))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_extreme_inputs(isa, name):
    """Saturation and zero: f(0) = 0, f(+-100) is finite and matches torch (no NaN/inf)."""
    ours, _, _ = ACTIVATIONS[name]
    # Every position within a vector (and in the scalar tail) sees every value.
    x = np.concatenate([np.roll(EXTREMES, s) for s in range(17)])
    out = ours(x)
    assert np.isfinite(out[np.abs(x) < 1e30]).all()
    with np.errstate(over="ignore"):
        expected = torch_activation(name, x)
    finite = np.isfinite(expected) & (np.abs(x) <= 1e4)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-6, atol=1e-4)
    assert np.all(ours(np.zeros(19, np.float32)) == 0)
    big = ours(np.array([100.0, -100.0], np.float32))
    assert abs(big[0] - 100) <= 1e-4 and abs(big[1]) <= 1e-4


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_many_values_threaded(isa, rng, name):
    ours, _, _ = ACTIVATIONS[name]
    x = rng.standard_normal((4096, 384), dtype=np.float32)
    assert_close(ours(x), torch_activation(name, x))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_shapes(isa, rng, name):
    ours, ref, _ = ACTIVATIONS[name]
    for shape in [(), (0,), (1,), (2, 3, 5, 7)]:
        x = rng.standard_normal(shape).astype(np.float32)
        out = ours(x)
        assert out.shape == x.shape
        assert_close(out, ref(x))


@pytest.mark.parametrize("name", ["relu", "gelu", "gelu_tanh", "silu"])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 40000])
def test_gated_activation(isa, rng, name, n):
    gate = rng.standard_normal(n, dtype=np.float32)
    up = rng.standard_normal(n, dtype=np.float32)
    out = _core.gated_activation(gate, up, getattr(_core.Activation, name))
    assert_close(out, torch_activation(name, gate) * up)


# ---- dtypes, layouts and errors -------------------------------------------------------------

@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_activation_accepts_other_float_dtypes(rng, name, dtype):
    ours, ref, _ = ACTIVATIONS[name]
    x = rng.standard_normal(33).astype(dtype)
    out = ours(x)
    assert out.dtype == np.float32
    assert_close(out, ref(x))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_non_contiguous_inputs(isa, rng, name):
    ours, ref, _ = ACTIVATIONS[name]
    base = rng.standard_normal((20, 34), dtype=np.float32)
    for x in (base.T, base[:, ::2], base[::-1]):
        assert_close(ours(x), ref(x))


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("x", [np.ones(3, np.int32), np.ones(3, bool), np.ones(3, object),
                               np.ones(3, np.complex64), [1, 2, 3]],
                         ids=["int", "bool", "object", "complex", "int-list"])
def test_activation_rejects_non_float_inputs(name, x):
    with pytest.raises(TypeError, match="^x:"):
        ACTIVATIONS[name][0](x)


@pytest.mark.parametrize("approximate", ["tanh ", "erf", None, "exact"])
def test_gelu_rejects_bad_approximation(approximate):
    with pytest.raises(ValueError, match="^approximate:"):
        ops.gelu(np.ones(3, np.float32), approximate=approximate)
