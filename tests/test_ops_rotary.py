"""rotary_embedding vs the NumPy reference and Hugging Face LLaMA's rotate-half formula written
in torch, on every ISA, with positions [T] and [B, T] and long positions."""

import numpy as np
import pytest

from conftest import assert_close
from pytransformer import ops, reference

HEAD_DIMS = [2, 4, 16, 30, 32, 34, 64, 66, 128, 200]


def torch_rotary(x, positions, base=10000.0):
    """transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb, in float32."""
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    D = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    positions = torch.from_numpy(np.asarray(positions, dtype=np.int64)).float()
    freqs = positions[..., None] * inv_freq  # [T, D/2] or [B, T, D/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    if positions.ndim == 2:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    half = D // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return (x * cos + rotated * sin).numpy()


@pytest.mark.parametrize("d", HEAD_DIMS)
def test_rotary_positions_per_token(isa, rng, d):
    x = rng.standard_normal((2, 3, 5, d), dtype=np.float32)
    positions = np.arange(5) + 3
    out = ops.rotary_embedding(x, positions)
    assert out.shape == x.shape
    assert_close(out, torch_rotary(x, positions))
    assert_close(out, reference.rotary_embedding(x, positions))


@pytest.mark.parametrize("d", [2, 16, 34, 128])
def test_rotary_positions_per_batch_row(isa, rng, d):
    x = rng.standard_normal((3, 2, 4, d), dtype=np.float32)
    positions = rng.integers(0, 500, size=(3, 4))
    out = ops.rotary_embedding(x, positions, base=500000.0)
    assert_close(out, torch_rotary(x, positions, base=500000.0))
    assert_close(out, reference.rotary_embedding(x, positions, base=500000.0))


def test_rotary_single_token(isa, rng):
    x = rng.standard_normal((1, 4, 1, 64), dtype=np.float32)
    assert_close(ops.rotary_embedding(x, [17]), torch_rotary(x, [17]))
    assert_close(ops.rotary_embedding(x, np.zeros((1, 1), np.int32)), x)  # position 0: identity


LONG_POSITIONS = np.array([1000, 2047, 2048, 3001, 4000, 4095])


def angle_tolerance(x, positions):
    """How far two correct float32 rotary implementations may differ at these positions.

    The angle p * inv_freq is a float32: inv_freq = base^(-2i/D) carries ~1 ulp of pow error
    that differs between libms (glibc powf here, SLEEF in torch's vector path, SVML in NumPy),
    and the product is rounded again, so the angle is only known to ~3 * p * 2^-24 rad (2.4e-4
    rad at p = 4000, against 1e-4 wanted). Each output mixes two inputs rotated by it.
    """
    return 1e-4 + 2 * float(np.abs(x).max()) * 3 * float(np.max(positions)) * 2.0**-24


def exact_rotary(x, positions, base=10000.0):
    """The rotation with the exact (float64) angle: what every float32 version approximates."""
    x = x.astype(np.float64)
    D = x.shape[-1]
    angles = np.asarray(positions, np.float64)[..., None] * base ** (-np.arange(0, D, 2) / D)
    cos, sin = np.cos(np.concatenate([angles] * 2, -1)), np.sin(np.concatenate([angles] * 2, -1))
    half = D // 2
    return x * cos + np.concatenate([-x[..., half:], x[..., :half]], -1) * sin


@pytest.mark.parametrize("d", [2, 16, 34, 64, 100, 128, 200])
def test_rotary_positions_below_128_within_1e4(isa, rng, d):
    """Below 128 the float32 angle (ulp <= 7.6e-6 rad) allows the plain 1e-4 tolerance."""
    x = rng.standard_normal((1, 2, 64, d), dtype=np.float32)
    positions = np.arange(64, 128)
    out = ops.rotary_embedding(x, positions)
    assert_close(out, torch_rotary(x, positions))
    assert_close(out, reference.rotary_embedding(x, positions))


@pytest.mark.parametrize("d", [16, 64, 100, 128, 200, 256])
def test_rotary_long_positions(isa, rng, d):
    x = rng.standard_normal((1, 2, len(LONG_POSITIONS), d), dtype=np.float32)
    atol = angle_tolerance(x, LONG_POSITIONS)
    out = ops.rotary_embedding(x, LONG_POSITIONS)
    assert_close(out, torch_rotary(x, LONG_POSITIONS), atol=atol)
    assert_close(out, reference.rotary_embedding(x, LONG_POSITIONS), atol=atol)
    assert_close(out, exact_rotary(x, LONG_POSITIONS), atol=atol)
    # The angle's rounding is the only loosening: at small positions the rotation is near exact.
    short = np.arange(len(LONG_POSITIONS))
    assert_close(ops.rotary_embedding(x, short), exact_rotary(x, short), atol=1e-5)


def test_rotary_many_tokens_threaded(isa, rng):
    x = rng.standard_normal((2, 8, 256, 64), dtype=np.float32)
    positions = rng.integers(0, 4096, size=(2, 256))
    atol = angle_tolerance(x, positions)
    assert_close(ops.rotary_embedding(x, positions), torch_rotary(x, positions), atol=atol)
    positions = rng.integers(0, 256, size=(2, 256))
    assert_close(ops.rotary_embedding(x, positions), torch_rotary(x, positions))


def test_rotary_preserves_norms_and_empty(isa, rng):
    x = rng.standard_normal((1, 1, 9, 32), dtype=np.float32)
    out = ops.rotary_embedding(x, np.arange(9))
    half = 16
    pair_norm = lambda a: a[..., :half] ** 2 + a[..., half:] ** 2
    assert_close(pair_norm(out), pair_norm(x))
    empty = np.zeros((2, 3, 0, 8), np.float32)
    assert ops.rotary_embedding(empty, np.zeros(0, int)).shape == empty.shape


# ---- partial rotary (GPT-NeoX's rotary_ndims, Phi's partial_rotary_factor) -----------------

def torch_partial_rotary(x, positions, rotary_dim, base=10000.0):
    """transformers' GPT-NeoX attention: apply_rotary_pos_emb on the first rotary_dim features
    (inverse frequencies over rotary_dim), the rest concatenated back unchanged."""
    rotated = torch_rotary(x[..., :rotary_dim], positions, base)
    return np.concatenate([rotated, x[..., rotary_dim:]], axis=-1)


@pytest.mark.parametrize("d, rotary_dim", [(64, 16), (80, 32), (10, 4), (66, 2), (34, 34),
                                           (200, 50)])
def test_rotary_partial_rotates_the_first_features_only(isa, rng, d, rotary_dim):
    x = rng.standard_normal((2, 3, 7, d), dtype=np.float32)
    positions = rng.integers(0, 300, size=(2, 7))
    out = ops.rotary_embedding(x, positions, rotary_dim=rotary_dim)
    assert_close(out, torch_partial_rotary(x, positions, rotary_dim))
    assert_close(out, reference.rotary_embedding(x, positions, rotary_dim=rotary_dim))
    assert np.array_equal(out[..., rotary_dim:], x[..., rotary_dim:])  # passed through exactly


def test_rotary_partial_of_a_strided_head_view(isa, rng):
    # The layer rotates q and k as [B, H, T, D] views of the fused projection.
    qkv = rng.standard_normal((2, 5, 3 * 4 * 24), dtype=np.float32)
    q = qkv[..., : 4 * 24].reshape(2, 5, 4, 24).transpose(0, 2, 1, 3)
    positions = np.arange(5) + 11
    assert_close(ops.rotary_embedding(q, positions, rotary_dim=8),
                 torch_partial_rotary(q, positions, 8))


@pytest.mark.parametrize("rotary_dim", [0, -2, 3, 66, True, 2**70])
def test_rotary_rejects_rotary_dim(rotary_dim):
    with pytest.raises((ValueError, TypeError), match="^rotary_dim:"):
        ops.rotary_embedding(np.ones((1, 1, 2, 64), np.float32), [0, 1], rotary_dim=rotary_dim)


def test_rotary_partial_allows_an_odd_head_dim():
    # Only the rotated features pair up: 4 of a 5-wide head is fine.
    x = np.arange(10, dtype=np.float32).reshape(1, 1, 2, 5)
    out = ops.rotary_embedding(x, [0, 1], rotary_dim=4)
    assert_close(out, torch_partial_rotary(x, [0, 1], 4))


# ---- dtypes, layouts and errors -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_rotary_accepts_other_float_dtypes_and_int_positions(rng, dtype):
    x = rng.standard_normal((1, 2, 3, 8)).astype(dtype)
    for positions in (np.array([0, 5, 9], np.int8), np.array([0, 5, 9], np.uint16), [0, 5, 9]):
        out = ops.rotary_embedding(x, positions)
        assert out.dtype == np.float32
        assert_close(out, reference.rotary_embedding(x, [0, 5, 9]))


def test_rotary_non_contiguous_inputs(isa, rng):
    base = rng.standard_normal((2, 5, 3, 32), dtype=np.float32)
    x = base.transpose(0, 2, 1, 3)  # [B, H, T, D] from [B, T, H, D], as the attention does
    positions = np.arange(10)[::2]
    assert_close(ops.rotary_embedding(x, positions), torch_rotary(x, positions))
    assert_close(ops.rotary_embedding(base[..., ::2], positions[:3]),
                 torch_rotary(base[..., ::2], positions[:3]))


@pytest.mark.parametrize("d", [1, 3, 15, 17, 33])
def test_rotary_rejects_odd_head_dim(d):
    with pytest.raises(ValueError, match="^x:"):
        ops.rotary_embedding(np.ones((1, 1, 2, d), np.float32), [0, 1])


@pytest.mark.parametrize("shape", [(2, 8), (1, 2, 8), (1, 1, 1, 2, 8)])
def test_rotary_rejects_x_rank(shape):
    with pytest.raises(ValueError, match="^x:"):
        ops.rotary_embedding(np.ones(shape, np.float32), [0, 1])


@pytest.mark.parametrize("positions", [np.arange(3), np.zeros((1, 2), int), np.zeros((2, 3), int),
                                       np.zeros((2, 2, 1), int), np.array(0)])
def test_rotary_rejects_positions_shape(positions):
    with pytest.raises(ValueError, match="^positions:"):
        ops.rotary_embedding(np.ones((2, 1, 2, 8), np.float32), positions)


@pytest.mark.parametrize("positions", [np.zeros(2, np.float32), np.zeros(2, bool), [0.0, 1.0],
                                       np.zeros(2, object)], ids=["float", "bool", "float-list", "object"])
def test_rotary_rejects_non_integer_positions(positions):
    with pytest.raises(TypeError, match="^positions:"):
        ops.rotary_embedding(np.ones((1, 1, 2, 8), np.float32), positions)


@pytest.mark.parametrize("x", [np.ones((1, 1, 2, 8), np.int32), np.ones((1, 1, 2, 8), bool),
                               np.ones((1, 1, 2, 8), object), np.ones((1, 1, 2, 8), np.complex64)],
                         ids=["int", "bool", "object", "complex"])
def test_rotary_rejects_non_float_x(x):
    with pytest.raises(TypeError, match="^x:"):
        ops.rotary_embedding(x, [0, 1])


def test_rotary_rejects_bad_base():
    x = np.ones((1, 1, 2, 8), np.float32)
    with pytest.raises(ValueError, match="^base:"):
        ops.rotary_embedding(x, [0, 1], base=0.0)
    with pytest.raises(ValueError, match="^base:"):
        ops.rotary_embedding(x, [0, 1], base=-10000.0)
    with pytest.raises(TypeError, match="^base:"):
        ops.rotary_embedding(x, [0, 1], base="10000")


def test_strided_head_views_rotate_without_a_copy(isa, rng):
    # What a LLaMA layer hands the kernel: the q heads of a fused QKV projection, [B, H, T, D]
    # viewed through the projection's strides (only D contiguous).
    from pytransformer import _core

    B, T, H, D = 2, 7, 3, 16
    qkv = rng.standard_normal((B, T, 3 * H * D)).astype(np.float32)
    q = qkv[..., H * D: 2 * H * D].reshape(B, T, H, D).transpose(0, 2, 1, 3)
    assert not q.flags.c_contiguous
    positions = rng.integers(0, 4096, (B, T))
    out = _core.rotary(q, positions, 10000.0)
    assert out.flags.c_contiguous
    assert_close(out, reference.rotary_embedding(np.ascontiguousarray(q), positions))
    with pytest.raises(ValueError, match="x: the last axis must be contiguous"):
        _core.rotary(q[..., ::2], positions, 10000.0)
