"""int8 Linear (compute_type="int8"): every int8 GEMM variant against the scalar one (exact int32
accumulators) and against plain NumPy integer maths; the dynamic row quantization against a
NumPy reference of the scheme (pytransformer/quantize.py); LinearInt8 against the float32
Linear within quantization error."""

import numpy as np
import pytest

from pytransformer import _core, ops
from pytransformer.quantize import quantize_rows

KERNELS = _core.supported_int8_kernels()
# Sizes below, at and past the register tiles (MR up to 8 rows, NR up to 48 columns), K not a
# multiple of 4, and row counts past one row block (MC = 128 for AVX-512): 300 rows make more
# blocks than threads; 200 and 250 make one block per thread with 2 threads, whose rows are
# quantized once and shared by the tasks (gemm_tasks.h). The AMX variant takes K a multiple of
# 64 with at least 16 rows through its tiles (16 rows x 64 depths): one whole tile, a partly
# filled last tile, blocks starting 8 rows into a tile (200 and 296 rows on 2 threads), a single
# block sliced among the threads (40 rows), and the rest through its VNNI micro-kernel.
SHAPES = [(1, 1, 1), (1, 5, 3), (3, 16, 4), (7, 47, 33), (8, 48, 64), (9, 97, 130),
          (33, 100, 255), (300, 50, 96), (4, 768, 768), (200, 120, 300), (250, 1000, 300),
          (16, 48, 64), (17, 100, 128), (40, 200, 1024), (200, 120, 256), (296, 97, 192),
          (300, 50, 384)]


def _random(rng, M, N, K):
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[0, 0] = 4.0  # an outlier: the row's scale follows it
    w = rng.integers(-127, 128, size=(N, K)).astype(np.int8)
    return x, w


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_accumulators_exact_vs_scalar_and_numpy(kernel, M, N, K, rng):
    x, w = _random(rng, M, N, K)
    scales = np.ones(N, np.float32)
    acc = ops.LinearInt8((w, scales), kernel=kernel).accumulators(x)
    oracle = ops.LinearInt8((w, scales), kernel="scalar").accumulators(x)
    q, _ = quantize_rows(x)
    numpy_acc = q.astype(np.int64) @ w.T.astype(np.int64)
    assert acc.dtype == np.int32 and acc.shape == (M, N)
    np.testing.assert_array_equal(acc, oracle)
    np.testing.assert_array_equal(acc, numpy_acc)


def test_accumulators_extreme_values(rng):
    # Every activation at +-127 times every weight at +-127: the largest sums, and the case the
    # u8 x s8 shift (+128) and a saturating vpmaddubsw would get wrong.
    # 20 rows of K = 1024 go through the AMX tiles.
    for rows, K in [(5, 1000), (20, 1024)]:
        x = np.where(rng.random((rows, K)) < 0.5, -1.0, 1.0).astype(np.float32)
        w = np.where(rng.random((40, K)) < 0.5, -127, 127).astype(np.int8)
        w[0] = 127
        x[0] = -1.0
        expected = np.rint(x * 127).astype(np.int64) @ w.T.astype(np.int64)
        for kernel in KERNELS:
            acc = ops.LinearInt8((w, np.ones(40, np.float32)), kernel=kernel).accumulators(x)
            np.testing.assert_array_equal(acc, expected, err_msg=f"{kernel}, K = {K}")


@pytest.mark.parametrize("kernel", KERNELS)
def test_dynamic_quantization_vs_numpy(kernel, rng):
    x = rng.standard_normal((6, 77)).astype(np.float32) * np.float32(3)
    x[1] = 0.0  # a zero row: scale 0, q 0
    x[2, 5] = -50.0
    x[3] = np.float32(0.5) / 127 * np.arange(77, dtype=np.float32)  # a ramp
    q, scales = _core.quantize_rows(x, kernel)
    q_ref, scales_ref = quantize_rows(x)
    np.testing.assert_array_equal(q, q_ref)
    np.testing.assert_array_equal(scales, scales_ref)
    assert scales[1] == 0 and not q[1].any()
    assert np.abs(q).max() <= 127


def test_quantize_weight():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -2.0]], np.float32)
    q, scales = ops.quantize_weight(w)
    assert q.dtype == np.int8 and scales.dtype == np.float32
    np.testing.assert_array_equal(q[0], [64, -127, 32])  # 63.5 rounds half to even
    np.testing.assert_array_equal(q[1], [0, 0, 0])
    np.testing.assert_array_equal(q[2], [127, 64, -127])  # 63.5 -> 64
    np.testing.assert_allclose(scales, [1 / 127, 0, 2 / 127], rtol=1e-7)
    np.testing.assert_allclose(q * scales[:, None], w, atol=scales.max() / 2 + 1e-7)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("activation", [None, "relu", "gelu", "gelu_tanh", "silu"])
def test_linear_int8_vs_float32(kernel, activation, rng):
    M, N, K = 19, 70, 200
    x = rng.standard_normal((2, M, K)).astype(np.float32)
    w = (rng.standard_normal((N, K)) / np.sqrt(K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    residual = rng.standard_normal((2, M, N)).astype(np.float32)
    layer = ops.LinearInt8(w, b, activation, kernel=kernel)
    assert layer.kernel == kernel and (layer.in_features, layer.out_features) == (K, N)
    out = layer(x, residual=residual)
    ref = ops.Linear(w, b, activation)(x, residual=residual)
    # Each of the K products carries ~(|x| scale_w + |w| scale_x) / 2 of rounding error.
    assert out.dtype == np.float32 and out.shape == ref.shape
    err = np.abs(out - ref)
    assert err.max() < 0.05, err.max()
    assert err.mean() < 0.01, err.mean()


def test_linear_int8_dequantization_exact_from_accumulators(rng):
    # No activation: the epilogue is acc * (scale_x * scale_w) + bias on every variant.
    x = rng.standard_normal((5, 40)).astype(np.float32)
    w = rng.standard_normal((30, 40)).astype(np.float32)
    b = rng.standard_normal(30).astype(np.float32)
    q, scales = ops.quantize_weight(w)
    _, x_scales = quantize_rows(x)
    for kernel in KERNELS:
        layer = ops.LinearInt8((q, scales), b, kernel=kernel)
        acc = layer.accumulators(x).astype(np.float32)
        expected = acc * (x_scales[:, None] * scales[None, :]) + b
        np.testing.assert_array_equal(layer(x), expected.astype(np.float32), err_msg=kernel)


def test_linear_int8_follows_forced_isa(isa):
    layer = ops.LinearInt8(np.ones((3, 4), np.float32))
    expected = {"avx512": ("avx512_amx", "avx512_vnni", "avx512bw"), "avx2": ("avx2",),
                "scalar": ("scalar",)}
    assert layer.kernel in expected[isa]
    np.testing.assert_allclose(layer(np.ones((2, 4), np.float32)), 4.0, rtol=1e-6)


def test_linear_int8_errors():
    with pytest.raises(TypeError, match="int8"):
        ops.LinearInt8((np.ones((2, 2), np.int16), np.ones(2, np.float32)))
    with pytest.raises(ValueError, match="scales"):
        ops.LinearInt8((np.ones((2, 2), np.int8), np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="-128"):
        ops.LinearInt8((np.full((2, 2), -128, np.int8), np.ones(2, np.float32)))
    with pytest.raises(ValueError, match="in_features"):
        ops.LinearInt8(np.ones((2, 3), np.float32))(np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="int8 kernel"):
        ops.LinearInt8(np.ones((2, 3), np.float32), kernel="neon")


def test_non_finite_activations_do_not_crash_and_agree_across_kernels(rng):
    # NaN (and the NaN that inf * 0 makes) clamps to -127 on every variant rather than going
    # through an undefined float-to-int conversion.
    x = rng.standard_normal((4, 37)).astype(np.float32)
    x[0, 3] = np.nan
    x[1, 5] = np.inf
    w = rng.integers(-127, 128, size=(20, 37)).astype(np.int8)
    results = {kernel: ops.LinearInt8((w, np.ones(20, np.float32)), kernel=kernel).accumulators(x)
               for kernel in KERNELS}
    for kernel, acc in results.items():
        np.testing.assert_array_equal(acc, results["scalar"], err_msg=kernel)
    q, _ = quantize_rows(x[2:])
    np.testing.assert_array_equal(results["scalar"][2:], q.astype(np.int64) @ w.T.astype(np.int64))


def test_rows_with_nan_or_inf_get_the_reference_scales_and_nan_outputs(rng):
    """A NaN in a row makes its scale NaN (max|x| over the row), so the row's outputs are NaN
    as a float32 Linear's are, instead of finite numbers; an infinity makes it infinite."""
    x = rng.standard_normal((4, 37)).astype(np.float32)
    x[0, 3] = np.nan
    x[1, 5] = np.inf
    with np.errstate(invalid="ignore"):  # the reference's NaN * inverse scale
        want_q, want_scales = quantize_rows(x)
    w = rng.integers(-127, 128, size=(20, 37)).astype(np.int8)
    for kernel in KERNELS:
        q, scales = _core.quantize_rows(x, kernel)
        np.testing.assert_array_equal(scales, want_scales, err_msg=kernel)
        assert np.isnan(scales[0]) and np.isinf(scales[1])
        np.testing.assert_array_equal(q[2:], want_q[2:], err_msg=kernel)
        out = ops.LinearInt8((w, np.ones(20, np.float32)), kernel=kernel)(x)
        assert np.isnan(out[0]).all() and np.isfinite(out[2:]).all(), kernel
    assert np.isnan(ops.Linear(w.astype(np.float32))(x)[0]).all()  # as float32 does


def test_empty_rows_quantize_to_zero_scales():
    q, scales = _core.quantize_rows(np.ones((3, 0), np.float32))
    assert q.shape == (3, 0)
    np.testing.assert_array_equal(scales, np.zeros(3, np.float32))


def test_in_features_past_exact_int32_accumulation_are_refused():
    # 255 * 127 * K must stay below 2^31: K = 140000 silently overflowed (a wrong sign).
    with pytest.raises(ValueError, match="in_features"):
        _core.PackedLinearInt8(np.ones((1, (1 << 16) + 1), np.int8), np.ones(1, np.float32))
    layer = _core.PackedLinearInt8(np.full((1, 1 << 16), 127, np.int8), np.ones(1, np.float32))
    x = np.full((1, 1 << 16), 1.0, np.float32)  # quantizes to 127: the largest sum allowed
    np.testing.assert_array_equal(layer.accumulators(x), [[127 * 127 * (1 << 16)]])
