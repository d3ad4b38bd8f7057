"""The private extension pytransformer._core called directly with bad arguments: every mistake
must raise TypeError or ValueError (naming the argument), never crash the interpreter or read
out of bounds. The public ops convert and check first; these are the checks behind them."""

import numpy as np
import pytest

import pytransformer
from pytransformer import _core

A = _core.Activation
F32 = np.ones((2, 4), np.float32)
W4 = np.ones(4, np.float32)
ERRORS = (TypeError, ValueError)

# (name, call) pairs; each call is a mistake the bindings or the op fronts must catch.
BAD_CALLS = {
    # layer_norm(x, weight, bias, eps, residual, return_sum)
    "layer_norm-x-float64": lambda: _core.layer_norm(F32.astype(np.float64), W4, None, 1e-5, None),
    "layer_norm-x-int": lambda: _core.layer_norm(F32.astype(np.int32), W4, None, 1e-5, None),
    "layer_norm-x-None": lambda: _core.layer_norm(None, W4, None, 1e-5, None),
    "layer_norm-x-list": lambda: _core.layer_norm([[1.0, 2.0]], W4, None, 1e-5, None),
    "layer_norm-x-0d": lambda: _core.layer_norm(np.float32(1)[()], W4, None, 1e-5, None),
    "layer_norm-x-empty-row": lambda: _core.layer_norm(np.ones((2, 0), np.float32), W4, None, 1e-5, None),
    "layer_norm-x-noncontiguous": lambda: _core.layer_norm(np.ones((4, 8), np.float32)[:, ::2], W4, None, 1e-5, None),
    "layer_norm-weight-None": lambda: _core.layer_norm(F32, None, None, 1e-5, None),
    "layer_norm-weight-short": lambda: _core.layer_norm(F32, W4[:3], None, 1e-5, None),
    "layer_norm-weight-float16": lambda: _core.layer_norm(F32, W4.astype(np.float16), None, 1e-5, None),
    "layer_norm-bias-shape": lambda: _core.layer_norm(F32, W4, np.ones(5, np.float32), 1e-5, None),
    "layer_norm-bias-not-array": lambda: _core.layer_norm(F32, W4, 1.0, 1e-5, None),
    "layer_norm-bias-int": lambda: _core.layer_norm(F32, W4, np.ones(4, np.int64), 1e-5, None),
    "layer_norm-residual-shape": lambda: _core.layer_norm(F32, W4, None, 1e-5, np.ones((4, 2), np.float32)),
    "layer_norm-residual-noncontiguous": lambda: _core.layer_norm(F32, W4, None, 1e-5, np.ones((4, 2), np.float32).T),
    "layer_norm-eps-negative": lambda: _core.layer_norm(F32, W4, None, -1.0, None),
    "layer_norm-eps-str": lambda: _core.layer_norm(F32, W4, None, "1e-5", None),
    "layer_norm-eps-None": lambda: _core.layer_norm(F32, W4, None, None, None),
    "layer_norm-missing-args": lambda: _core.layer_norm(F32, W4),
    "rms_norm-x-int": lambda: _core.rms_norm(F32.astype(np.int64), W4, 1e-6, None),
    "rms_norm-weight-2d": lambda: _core.rms_norm(F32, np.ones((1, 4), np.float32), 1e-6, None),
    "rms_norm-residual-dtype": lambda: _core.rms_norm(F32, W4, 1e-6, F32.astype(np.float64)),
    "rms_norm-residual-list": lambda: _core.rms_norm(F32, W4, 1e-6, [[1.0] * 4] * 2),
    # Strided or broadcast weights were read as if contiguous: out of bounds (a crash at 2^22).
    "rms_norm-weight-broadcast": lambda: _core.rms_norm(np.ones((2, 1 << 22), np.float32), np.broadcast_to(np.float32(2), (1 << 22,)), 1e-5, None),
    "layer_norm-weight-reversed": lambda: _core.layer_norm(F32, W4[::-1], None, 1e-5, None),
    "layer_norm-bias-strided": lambda: _core.layer_norm(F32, W4, np.ones(8, np.float32)[::2], 1e-5, None),
    # softmax(x)
    "softmax-x-float64": lambda: _core.softmax(F32.astype(np.float64)),
    "softmax-x-0d": lambda: _core.softmax(np.array(1.0, np.float32)),
    "softmax-x-None": lambda: _core.softmax(None),
    "softmax-x-noncontiguous": lambda: _core.softmax(np.ones((4, 8), np.float32).T),
    "softmax-x-bool": lambda: _core.softmax(F32 > 0),
    # activation(x, activation), gated_activation(gate, up, activation)
    "activation-x-int": lambda: _core.activation(np.ones(3, np.int32), A.relu),
    "activation-x-noncontiguous": lambda: _core.activation(np.ones(8, np.float32)[::2], A.gelu),
    "activation-kind-str": lambda: _core.activation(W4, "relu"),
    "activation-kind-int": lambda: _core.activation(W4, 1),
    "activation-kind-None": lambda: _core.activation(W4, None),
    "gated-up-shape": lambda: _core.gated_activation(W4, np.ones(5, np.float32), A.silu),
    "gated-up-None": lambda: _core.gated_activation(W4, None, A.silu),
    "gated-up-float64": lambda: _core.gated_activation(W4, W4.astype(np.float64), A.silu),
    "gated-gate-noncontiguous": lambda: _core.gated_activation(np.ones(8, np.float32)[::2], W4, A.silu),
    # embedding(ids, table, scale)
    "embedding-ids-int32": lambda: _core.embedding(np.array([0, 1], np.int32), F32),
    "embedding-ids-float": lambda: _core.embedding(np.array([0.0]), F32),
    "embedding-ids-None": lambda: _core.embedding(None, F32),
    "embedding-ids-negative": lambda: _core.embedding(np.array([-1]), F32),
    "embedding-ids-too-large": lambda: _core.embedding(np.array([2]), F32),
    "embedding-ids-int64-max": lambda: _core.embedding(np.array([2**63 - 1]), F32),
    "embedding-ids-noncontiguous": lambda: _core.embedding(np.zeros(4, np.int64)[::2], F32),
    "embedding-table-1d": lambda: _core.embedding(np.array([0]), W4),
    "embedding-table-3d": lambda: _core.embedding(np.array([0]), np.ones((2, 2, 2), np.float32)),
    "embedding-table-0d": lambda: _core.embedding(np.array([0]), np.array(1.0, np.float32)),
    "embedding-table-float64": lambda: _core.embedding(np.array([0]), F32.astype(np.float64)),
    "embedding-table-noncontiguous": lambda: _core.embedding(np.array([0]), np.ones((4, 8), np.float32)[:, ::2]),
    # sinusoidal_positions(length, dim)
    "sinusoidal-negative": lambda: _core.sinusoidal_positions(-1, 4),
    "sinusoidal-float": lambda: _core.sinusoidal_positions(2.5, 4),
    "sinusoidal-None": lambda: _core.sinusoidal_positions(None, 4),
    # rotary(x, positions, base)
    "rotary-x-3d": lambda: _core.rotary(np.ones((1, 2, 8), np.float32), np.arange(2), 1e4),
    "rotary-x-odd": lambda: _core.rotary(np.ones((1, 1, 2, 7), np.float32), np.arange(2), 1e4),
    "rotary-x-noncontiguous": lambda: _core.rotary(np.ones((1, 1, 8, 2), np.float32).transpose(0, 1, 3, 2), np.arange(2), 1e4),
    "rotary-positions-int32": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.arange(2, dtype=np.int32), 1e4),
    "rotary-positions-short": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.arange(1), 1e4),
    "rotary-positions-3d": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.zeros((1, 1, 2), np.int64), 1e4),
    "rotary-positions-None": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), None, 1e4),
    "rotary-base-zero": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.arange(2), 0.0),
    "rotary-base-nan": lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.arange(2), float("nan")),
    # PackedLinear(weight, bias).forward(x, activation, residual)
    "linear-weight-1d": lambda: _core.PackedLinear(W4),
    "linear-weight-3d": lambda: _core.PackedLinear(np.ones((2, 2, 2), np.float32)),
    "linear-weight-empty": lambda: _core.PackedLinear(np.ones((0, 4), np.float32)),
    "linear-weight-float64": lambda: _core.PackedLinear(F32.astype(np.float64)),
    "linear-weight-None": lambda: _core.PackedLinear(None),
    "linear-bias-shape": lambda: _core.PackedLinear(F32, W4),
    "linear-bias-list": lambda: _core.PackedLinear(F32, [1.0, 2.0]),
    # A strided bias would be copied as if contiguous (a negative stride reads out of bounds).
    "linear-bias-noncontiguous": lambda: _core.PackedLinear(F32, np.ones(2 * F32.shape[0], np.float32)[::-2]),
    "linear-x-shape": lambda: _core.PackedLinear(F32).forward(np.ones((3, 5), np.float32)),
    "linear-x-0d": lambda: _core.PackedLinear(F32).forward(np.array(1.0, np.float32)),
    "linear-x-None": lambda: _core.PackedLinear(F32).forward(None),
    "linear-x-int": lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.int32)),
    "linear-x-noncontiguous": lambda: _core.PackedLinear(F32).forward(np.ones((4, 3), np.float32).T),
    "linear-activation-str": lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.float32), "relu"),
    "linear-residual-shape": lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.float32), A.none, np.ones((3, 4), np.float32)),
    "linear-residual-noncontiguous": lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.float32), A.none, np.ones((2, 3), np.float32).T),
    "linear-residual-float64": lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.float32), A.none, np.ones((3, 2))),
    # attention(q, k, v, key_padding_mask, causal, attn_bias, scale): only the mask dtype here
    "attention-mask-float": lambda: _core.attention(*[np.ones((1, 1, 2, 4), np.float32)] * 3, np.zeros((1, 2), np.float32), False, None, 1.0),
    "attention-mask-int64": lambda: _core.attention(*[np.ones((1, 1, 2, 4), np.float32)] * 3, np.zeros((1, 2), np.int64), False, None, 1.0),
    "attention-q-None": lambda: _core.attention(None, *[np.ones((1, 1, 2, 4), np.float32)] * 2, None, False, None, 1.0),
    # runtime
    "set_isa-unknown": lambda: _core.set_isa("sse2"),
    "set_isa-None": lambda: _core.set_isa(None),
    "set_num_threads-zero": lambda: _core.set_num_threads(0),
    "set_num_threads-negative": lambda: _core.set_num_threads(-4),
    "set_num_threads-str": lambda: _core.set_num_threads("2"),
    # A million threads crashed inside libgomp at the next parallel region.
    "set_num_threads-million": lambda: _core.set_num_threads(10**6),
}


def _never_initialised(cls):
    """An object of a bound class whose C++ constructor never ran (__new__ without __init__)."""
    return cls.__new__(cls)


def _layer_with_norm(norm):
    lin = lambda o, i: _core.PackedLinear(np.ones((o, i), np.float32))
    return _core.TransformerLayer(heads=1, kv_heads=1, head_dim=4, pre_norm=True, qkv=lin(12, 4),
                                  out=lin(4, 4), self_norm=norm, up=lin(8, 4), down=lin(4, 8),
                                  ffn_norm=norm)


# pybind11 hands an uninitialised object's raw storage to its methods; each must refuse it.
UNINITIALISED_USES = {
    "kv_cache-keys": lambda: _never_initialised(_core.KVCache).keys(0),
    "kv_cache-layers": lambda: _never_initialised(_core.KVCache).layers,
    "kv_cache-write": lambda: _never_initialised(_core.KVCache).write(0, np.ones((1, 1, 1, 4), np.float32), np.ones((1, 1, 1, 4), np.float32), 0),
    "kv_cache-reorder": lambda: _never_initialised(_core.KVCache).reorder([0], 0),
    "linear-forward": lambda: _never_initialised(_core.PackedLinear).forward(F32),
    "linear-in_features": lambda: _never_initialised(_core.PackedLinear).in_features,
    "linear_int8-forward": lambda: _never_initialised(_core.PackedLinearInt8).forward(F32),
    "linear_int8-accumulators": lambda: _never_initialised(_core.PackedLinearInt8).accumulators(F32),
    "linear_int8-kernel": lambda: _never_initialised(_core.PackedLinearInt8).kernel,
    "layer-d_model": lambda: _never_initialised(_core.TransformerLayer).d_model,
    "layer-forward": lambda: _never_initialised(_core.TransformerLayer).forward(np.ones((1, 2, 4), np.float32)),
    "layer-norm-argument": lambda: _layer_with_norm(_never_initialised(_core.Norm)),
    "layer-cache-argument": lambda: _layer_with_norm(_core.Norm(W4)).forward(
        np.ones((1, 2, 4), np.float32), cache=_never_initialised(_core.KVCache)),
}


@pytest.mark.parametrize("use", UNINITIALISED_USES.values(), ids=UNINITIALISED_USES.keys())
def test_core_refuses_objects_whose_constructor_never_ran(use):
    with pytest.raises(TypeError, match="never initialised"):
        use()


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_core_rejects_bad_arguments(call):
    with pytest.raises(ERRORS):
        call()


@pytest.mark.parametrize("call,name", [
    (lambda: _core.softmax(F32.astype(np.float64)), "x"),
    (lambda: _core.layer_norm(F32, W4[:3], None, 1e-5, None), "weight"),
    (lambda: _core.layer_norm(F32, W4, np.ones(5, np.float32), 1e-5, None), "bias"),
    (lambda: _core.layer_norm(F32, W4, None, 1e-5, np.ones((4, 2), np.float32)), "residual"),
    (lambda: _core.gated_activation(W4, np.ones(5, np.float32), A.silu), "up"),
    (lambda: _core.embedding(np.array([7]), F32), "ids"),
    (lambda: _core.embedding(np.array([0], np.int32), F32), "ids"),
    (lambda: _core.embedding(np.array([0]), W4), "table"),
    (lambda: _core.rotary(np.ones((1, 1, 2, 8), np.float32), np.arange(1), 1e4), "positions"),
    (lambda: _core.PackedLinear(F32, W4), "bias"),
    (lambda: _core.PackedLinear(F32).forward(np.ones((3, 5), np.float32)), "x"),
    (lambda: _core.PackedLinear(F32).forward(np.ones((3, 4), np.float32), A.none, F32), "residual"),
    (lambda: _core.layer_norm(F32, W4[::-1], None, 1e-5, None), "weight"),
    (lambda: _core.layer_norm(F32, W4, np.ones(8, np.float32)[::2], 1e-5, None), "bias"),
    (lambda: _core.set_num_threads(10**6), "n"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_core_errors_name_the_argument(call, name):
    with pytest.raises(ERRORS, match=f"^{name}:"):
        call()


def test_core_non_float32_is_a_type_error_not_a_copy():
    with pytest.raises(TypeError, match="float32"):
        _core.softmax(F32.astype(np.float64))
    with pytest.raises(TypeError, match="int64"):
        _core.embedding(np.array([0], np.int32), F32)


def test_core_state_is_intact_after_errors():
    """After a burst of rejected calls, the module still computes correctly."""
    for call in BAD_CALLS.values():
        try:
            call()
        except ERRORS:
            pass
    x = np.array([[0.0, np.log(3.0)]], np.float32)
    np.testing.assert_allclose(_core.softmax(x), [[0.25, 0.75]], atol=1e-6)
    assert _core.get_num_threads() >= 1


def test_core_layer_norm_return_sum(rng):
    x = rng.standard_normal((3, 17), dtype=np.float32)
    residual = rng.standard_normal((3, 17), dtype=np.float32)
    out, total = _core.layer_norm(x, np.ones(17, np.float32), None, 1e-5, residual, True)
    np.testing.assert_allclose(total, x + residual, atol=1e-6)
    out2, total2 = _core.rms_norm(x, np.ones(17, np.float32), 1e-6, residual, True)
    np.testing.assert_allclose(total2, x + residual, atol=1e-6)


def test_core_linear_properties():
    layer = _core.PackedLinear(np.ones((3, 5), np.float32), np.zeros(3, np.float32))
    assert (layer.in_features, layer.out_features, layer.has_bias) == (5, 3, True)
    assert layer.isa in ("avx512", "avx2", "scalar")


@pytest.mark.parametrize("isa", pytransformer.supported_isas())
def test_packed_linear_packs_strided_weights(isa):
    """A weight of any strides packs without a copy (GPT-2 stores its Linear weights as
    [in, out]): a transposed view gives the same layer as its contiguous copy."""
    original = _core.cpu_isa()
    _core.set_isa(isa)
    try:
        rng = np.random.default_rng(1)
        stored = rng.standard_normal((37, 21), dtype=np.float32)  # [in, out]
        x = rng.standard_normal((5, 37), dtype=np.float32)
        strided = _core.PackedLinear(stored.T).forward(x)
        copied = _core.PackedLinear(np.ascontiguousarray(stored.T)).forward(x)
        np.testing.assert_array_equal(strided, copied)
        np.testing.assert_allclose(strided, x @ stored, rtol=0, atol=1e-4)
    finally:
        _core.set_isa(original)
