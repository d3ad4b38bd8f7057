"""feed_forward and gated_feed_forward (SwiGLU / GeGLU) vs the NumPy reference and the same
formula in torch, on every ISA."""

import numpy as np
import pytest

from conftest import assert_close
from pytransformer import ops, reference


def weights(rng, out_features, in_features):
    return (rng.standard_normal((out_features, in_features)) / np.sqrt(in_features)).astype(np.float32)


def torch_act(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
            "silu": F.silu, None: lambda t: t}[name]


@pytest.mark.parametrize("activation", [None, "relu", "gelu", "gelu_tanh", "silu"])
@pytest.mark.parametrize("e,hidden", [(1, 3), (16, 64), (17, 33), (384, 1000)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_feed_forward(isa, rng, activation, e, hidden, with_bias):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, e), dtype=np.float32)
    w1, w2 = weights(rng, hidden, e), weights(rng, e, hidden)
    b1 = rng.standard_normal(hidden, dtype=np.float32) if with_bias else None
    b2 = rng.standard_normal(e, dtype=np.float32) if with_bias else None
    out = ops.feed_forward(x, w1, b1, w2, b2, activation)
    F = torch.nn.functional
    t = lambda a: None if a is None else torch.from_numpy(a)
    expected = F.linear(torch_act(activation)(F.linear(t(x), t(w1), t(b1))), t(w2), t(b2)).numpy()
    assert out.shape == x.shape
    assert_close(out, expected)
    assert_close(out, reference.feed_forward(x, w1, b1, w2, b2, activation))


@pytest.mark.parametrize("activation", ["silu", "gelu", "gelu_tanh", "relu"])
@pytest.mark.parametrize("e,hidden", [(1, 1), (16, 48), (33, 100), (384, 1000)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_gated_feed_forward(isa, rng, activation, e, hidden, with_bias):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, e), dtype=np.float32)
    w_gate, w_up, w_down = weights(rng, hidden, e), weights(rng, hidden, e), weights(rng, e, hidden)
    biases = [rng.standard_normal(n, dtype=np.float32) if with_bias else None for n in (hidden, hidden, e)]
    out = ops.gated_feed_forward(x, w_gate, w_up, w_down, activation, *biases)
    F = torch.nn.functional
    t = lambda a: None if a is None else torch.from_numpy(a)
    gate = torch_act(activation)(F.linear(t(x), t(w_gate), t(biases[0])))
    expected = F.linear(gate * F.linear(t(x), t(w_up), t(biases[1])), t(w_down), t(biases[2])).numpy()
    assert_close(out, expected)
    assert_close(out, reference.gated_feed_forward(x, w_gate, w_up, w_down, activation, *biases))


def test_feed_forward_many_rows_threaded(isa, rng):
    x = rng.standard_normal((4096, 64), dtype=np.float32)
    w1, w2 = weights(rng, 96, 64), weights(rng, 64, 96)
    assert_close(ops.feed_forward(x, w1, None, w2, None, "gelu"),
                 reference.feed_forward(x, w1, None, w2, None, "gelu"))
    assert_close(ops.gated_feed_forward(x, w1, w1[::-1], w2),
                 reference.gated_feed_forward(x, w1, w1[::-1], w2))


def test_feed_forward_accepts_float64_and_views(rng):
    x = rng.standard_normal((4, 8))
    w1, w2 = weights(rng, 16, 8).astype(np.float64), weights(rng, 8, 16)
    assert_close(ops.feed_forward(x.T.copy().T, w1, None, w2.T.copy().T, None),
                 reference.feed_forward(x, w1, None, w2, None))
    assert_close(ops.gated_feed_forward(x, w1, w1, w2.astype(np.float16)),
                 reference.gated_feed_forward(x, w1, w1, w2.astype(np.float16)))


@pytest.mark.parametrize("argument", ["x", "w1", "b1", "w2", "b2"])
def test_feed_forward_rejects_integer_inputs(argument):
    args = {"x": np.ones((2, 4), np.float32), "w1": np.ones((8, 4), np.float32),
            "b1": np.ones(8, np.float32), "w2": np.ones((4, 8), np.float32), "b2": np.ones(4, np.float32)}
    args[argument] = args[argument].astype(np.int32)
    with pytest.raises(TypeError, match="^(x|weight|bias):"):
        ops.feed_forward(**args)


def test_feed_forward_rejects_shapes():
    x, w1, w2 = np.ones((2, 4), np.float32), np.ones((8, 4), np.float32), np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="^x:"):
        ops.feed_forward(x, w1, None, np.ones((4, 7), np.float32), None)
    with pytest.raises(ValueError, match="^bias:"):
        ops.feed_forward(x, w1, np.ones(4, np.float32), w2, None)
    with pytest.raises(ValueError, match="^x:"):
        ops.feed_forward(np.ones((2, 5), np.float32), w1, None, w2, None)
    with pytest.raises(ValueError, match="^activation:"):
        ops.feed_forward(x, w1, None, w2, None, "swish")


def test_gated_feed_forward_rejects_mismatched_gate_and_up():
    x, w_down = np.ones((2, 4), np.float32), np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="^up:"):
        ops.gated_feed_forward(x, np.ones((8, 4), np.float32), np.ones((6, 4), np.float32), w_down)
    with pytest.raises(ValueError, match="^activation:"):
        ops.gated_feed_forward(x, np.ones((8, 4), np.float32), np.ones((8, 4), np.float32), w_down, "tanh")
    with pytest.raises(TypeError, match="^weight:"):
        ops.gated_feed_forward(x, np.ones((8, 4), int), np.ones((8, 4), np.float32), w_down)
