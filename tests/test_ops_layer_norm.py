"""layer_norm and rms_norm (with the fused residual add) vs the NumPy reference, torch
F.layer_norm / nn.LayerNorm and nn.RMSNorm, on every ISA."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_close
from pytransformer import ops, reference

DIMS = [1, 3, 15, 16, 17, 33, 100, 384, 1000]


def params(rng, c):
    return (1 + 0.5 * rng.standard_normal(c)).astype(np.float32), rng.standard_normal(c, dtype=np.float32)


def torch_layer_norm(x, weight, bias, eps):
    torch = pytest.importorskip("torch")
    t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))
    return torch.nn.functional.layer_norm(t(x), (x.shape[-1],), t(weight), t(bias), eps).numpy()


def torch_rms_norm(x, weight, eps):
    torch = pytest.importorskip("torch")
    if not hasattr(torch.nn, "RMSNorm"):
        pytest.skip("torch.nn.RMSNorm needs torch >= 2.4")
    norm = torch.nn.RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(weight))
        return norm(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("c", DIMS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm_matches_torch_and_reference(isa, rng, c, with_bias):
    x = rng.standard_normal((5, c), dtype=np.float32)
    weight, bias = params(rng, c)
    bias = bias if with_bias else None
    out = ops.layer_norm(x, weight, bias)
    assert_close(out, torch_layer_norm(x, weight, bias, 1e-5))
    assert_close(out, reference.layer_norm(x, weight, bias))


@pytest.mark.parametrize("c", [16, 17, 384])
def test_layer_norm_matches_torch_module(isa, rng, c):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, c), dtype=np.float32)
    weight, bias = params(rng, c)
    module = torch.nn.LayerNorm(c, eps=1e-6)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        module.bias.copy_(torch.from_numpy(bias))
        expected = module(torch.from_numpy(x)).numpy()
    assert_close(ops.layer_norm(x, weight, bias, eps=1e-6), expected)


@pytest.mark.parametrize("c", [1, 15, 16, 33, 1000])
def test_layer_norm_residual(isa, rng, c):
    x = rng.standard_normal((3, 4, c), dtype=np.float32)
    residual = rng.standard_normal((3, 4, c), dtype=np.float32)
    weight, bias = params(rng, c)
    out = ops.layer_norm(x, weight, bias, residual=residual)
    assert_close(out, torch_layer_norm(x + residual, weight, bias, 1e-5))
    assert_close(out, reference.layer_norm(x, weight, bias, residual=residual))


def test_layer_norm_single_row_and_single_token(isa, rng):
    weight, bias = params(rng, 33)
    x = rng.standard_normal(33, dtype=np.float32)
    assert_close(ops.layer_norm(x, weight, bias), torch_layer_norm(x, weight, bias, 1e-5))
    x = rng.standard_normal((1, 1, 33), dtype=np.float32)
    assert_close(ops.layer_norm(x, weight, bias), torch_layer_norm(x, weight, bias, 1e-5))


def test_layer_norm_large_mean_keeps_precision(isa, rng):
    """Two-pass variance: a row offset by 100 normalises as well as a centred one.

    torch's error vs a float64 LayerNorm here is 2.3e-5 and the AVX2/AVX-512 kernels' 2.4e-5 /
    3.1e-5; the scalar kernel's (one sequential float accumulator for the mean) is 1.6e-4.
    """
    x = (100 + rng.standard_normal((8, 384))).astype(np.float32)
    weight, bias = params(rng, 384)
    assert_close(ops.layer_norm(x, weight, bias), torch_layer_norm(x, weight, bias, 1e-5))


def test_layer_norm_constant_row_gives_bias(isa, rng):
    weight, bias = params(rng, 17)
    out = ops.layer_norm(np.full((2, 17), 3.0, np.float32), weight, bias)
    assert_close(out, np.broadcast_to(bias, (2, 17)))


def test_layer_norm_many_rows_threaded(isa, rng):
    x = rng.standard_normal((4096, 384), dtype=np.float32)
    residual = rng.standard_normal((4096, 384), dtype=np.float32)
    weight, bias = params(rng, 384)
    out = ops.layer_norm(x, weight, bias, residual=residual)
    assert_close(out, torch_layer_norm(x + residual, weight, bias, 1e-5))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=3), with_bias=st.booleans(),
       with_residual=st.booleans(), eps=st.sampled_from([1e-5, 1e-6, 1e-12, 0.1]),
       seed=st.integers(0, 2**32 - 1))
def test_layer_norm_random_shapes(isa, shape, with_bias, with_residual, eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    residual = rng.standard_normal(shape, dtype=np.float32) if with_residual else None
    weight, bias = params(rng, shape[-1])
    bias = bias if with_bias else None
    if shape[-1] == 1 and eps < 1e-6:
        eps = 1e-5  # a 1-wide row has zero variance: tiny eps only amplifies rounding
    out = ops.layer_norm(x, weight, bias, eps=eps, residual=residual)
    assert_close(out, reference.layer_norm(x, weight, bias, eps=eps, residual=residual))


# ---- rms_norm -------------------------------------------------------------------------------

@pytest.mark.parametrize("c", DIMS)
def test_rms_norm_matches_torch_and_reference(isa, rng, c):
    x = rng.standard_normal((5, c), dtype=np.float32)
    weight, _ = params(rng, c)
    out = ops.rms_norm(x, weight, eps=1e-6)
    assert_close(out, torch_rms_norm(x, weight, 1e-6))
    assert_close(out, reference.rms_norm(x, weight, eps=1e-6))


@pytest.mark.parametrize("c", [3, 16, 100])
def test_rms_norm_residual(isa, rng, c):
    x = rng.standard_normal((2, 7, c), dtype=np.float32)
    residual = rng.standard_normal((2, 7, c), dtype=np.float32)
    weight, _ = params(rng, c)
    out = ops.rms_norm(x, weight, eps=1e-5, residual=residual)
    assert_close(out, torch_rms_norm(x + residual, weight, 1e-5))
    assert_close(out, reference.rms_norm(x, weight, eps=1e-5, residual=residual))


def test_rms_norm_many_rows_threaded(isa, rng):
    x = rng.standard_normal((4096, 384), dtype=np.float32)
    weight, _ = params(rng, 384)
    assert_close(ops.rms_norm(x, weight), torch_rms_norm(x, weight, 1e-6))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=3), with_residual=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_rms_norm_random_shapes(isa, shape, with_residual, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    residual = rng.standard_normal(shape, dtype=np.float32) if with_residual else None
    weight, _ = params(rng, shape[-1])
    assert_close(ops.rms_norm(x, weight, residual=residual),
                 reference.rms_norm(x, weight, residual=residual))


# ---- dtypes, layouts and errors -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_norms_accept_other_float_dtypes(rng, dtype):
    x = rng.standard_normal((4, 17)).astype(dtype)
    weight, bias = (a.astype(dtype) for a in params(rng, 17))
    out = ops.layer_norm(x, weight, bias, residual=x)
    assert out.dtype == np.float32
    assert_close(out, reference.layer_norm(x, weight, bias, residual=x))
    out = ops.rms_norm(x, weight, residual=x)
    assert out.dtype == np.float32
    assert_close(out, reference.rms_norm(x, weight, residual=x))


def test_norms_non_contiguous_inputs(isa, rng):
    base = rng.standard_normal((40, 34), dtype=np.float32)
    x = base.T[::2]  # [17, 40], transposed and strided
    residual = base[:, ::2].T.copy(order="F")  # [17, 40], column-major
    wide, bias = params(rng, 80)
    weight = wide[::2]
    assert_close(ops.layer_norm(x, weight, bias[1::2], residual=residual),
                 reference.layer_norm(x, weight, bias[1::2], residual=residual))
    assert_close(ops.rms_norm(x, weight, residual=residual),
                 reference.rms_norm(x, weight, residual=residual))


BAD_VALUES = {
    "int": lambda a: a.astype(np.int64),
    "bool": lambda a: a > 0,
    "object": lambda a: a.astype(object),
    "complex": lambda a: a.astype(np.complex128),
}


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("argument", ["x", "weight", "bias", "residual"])
def test_layer_norm_rejects_non_float_inputs(rng, kind, argument):
    args = {"x": np.ones((2, 4), np.float32), "weight": np.ones(4, np.float32),
            "bias": np.zeros(4, np.float32), "residual": np.ones((2, 4), np.float32)}
    args[argument] = BAD_VALUES[kind](args[argument])
    with pytest.raises(TypeError, match=f"^{argument}:"):
        ops.layer_norm(**args)


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("argument", ["x", "weight", "residual"])
def test_rms_norm_rejects_non_float_inputs(rng, kind, argument):
    args = {"x": np.ones((2, 4), np.float32), "weight": np.ones(4, np.float32),
            "residual": np.ones((2, 4), np.float32)}
    args[argument] = BAD_VALUES[kind](args[argument])
    with pytest.raises(TypeError, match=f"^{argument}:"):
        ops.rms_norm(**args)


SHAPE_MISTAKES = [("x", ()), ("x", (2, 0)), ("weight", (5,)), ("weight", (1, 4)), ("weight", ()),
                  ("residual", (2, 5)), ("residual", (4,)), ("residual", (1, 2, 4))]


@pytest.mark.parametrize("norm,argument,shape",
                         [("layer_norm", *m) for m in SHAPE_MISTAKES + [("bias", (3,)), ("bias", (1, 4))]]
                         + [("rms_norm", *m) for m in SHAPE_MISTAKES])
def test_norms_reject_shapes(norm, argument, shape):
    args = {"x": np.ones((2, 4), np.float32), "weight": np.ones(4, np.float32),
            "residual": np.ones((2, 4), np.float32)}
    if norm == "layer_norm":
        args["bias"] = np.zeros(4, np.float32)
    args[argument] = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match=f"^{argument}:"):
        getattr(ops, norm)(**args)


@pytest.mark.parametrize("norm", [ops.layer_norm, ops.rms_norm])
def test_norms_reject_bad_eps(norm):
    x, weight = np.ones((2, 4), np.float32), np.ones(4, np.float32)
    with pytest.raises(TypeError, match="^eps:"):
        norm(x, weight, eps="1e-5")
    with pytest.raises(TypeError, match="^eps:"):
        norm(x, weight, eps=True)
    with pytest.raises(ValueError, match="^eps:"):
        norm(x, weight, eps=-1.0)
    with pytest.raises(ValueError, match="^eps:"):
        norm(x, weight, eps=float("nan"))
