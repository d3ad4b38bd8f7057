"""Fused attention (ops.scaled_dot_product_attention, ops.multi_head_attention) against the NumPy
reference and PyTorch, on every ISA this CPU runs.

The shapes straddle the kernel's tile edges: query blocks of 4 x vector width rows (64 / 32 / 4)
and key tiles of 64 visible keys; head dims below, at and past the vector width.
"""
import itertools

import numpy as np
import pytest

import pytransformer
from pytransformer import _core, ops, reference

ATOL = 1e-4


@pytest.fixture(params=pytransformer.supported_isas(), autouse=True)
def isa(request):
    original = _core.cpu_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(original)


def randn(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def qkv(rng, B, H, Hkv, Tq, Tk, D):
    return randn(rng, B, H, Tq, D), randn(rng, B, Hkv, Tk, D), randn(rng, B, Hkv, Tk, D)


def check(q, k, v, **kwargs):
    ours = ops.scaled_dot_product_attention(q, k, v, **kwargs)
    expected = reference.scaled_dot_product_attention(q, k, v, **kwargs)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)
    return ours


# B, H, Hkv, Tq, Tk, D
SHAPES = [
    (1, 1, 1, 1, 1, 1),
    (2, 3, 3, 5, 7, 7),
    (1, 2, 2, 1, 1, 64),
    (2, 4, 2, 17, 33, 32),
    (1, 2, 1, 63, 64, 80),
    (1, 1, 1, 64, 65, 16),
    (1, 2, 2, 65, 129, 128),
    (2, 2, 2, 1, 200, 130),
    (1, 8, 2, 3, 65, 64),      # GQA rows of 4 heads share one block
    (1, 6, 3, 33, 40, 8),      # GQA blocks straddle two heads
    (1, 2, 2, 40, 10, 33),     # Tq > Tk
    (3, 2, 1, 9, 9, 128),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding,causal", list(itertools.product([False, True], repeat=2)))
def test_sdpa_matches_reference(shape, padding, causal):
    rng = np.random.default_rng(sum(shape))
    B, H, Hkv, Tq, Tk, D = shape
    q, k, v = qkv(rng, *shape)
    mask = rng.random((B, Tk)) < 0.3 if padding else None
    check(q, k, v, key_padding_mask=mask, causal=causal)


@pytest.mark.parametrize("bias_shape", [
    (1,), (7,), (1, 1, 1, 7), (2, 1, 1, 7), (1, 3, 1, 7), (1, 1, 5, 7), (2, 3, 5, 7), (5, 1),
    (2, 3, 5, 1), (3, 1, 1),
])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_bias_broadcasts(bias_shape, causal):
    rng = np.random.default_rng(len(bias_shape))
    q, k, v = qkv(rng, 2, 3, 3, 5, 7, 9)
    bias = randn(rng, *bias_shape)
    check(q, k, v, attn_bias=bias, causal=causal, key_padding_mask=rng.random((2, 7)) < 0.2)


@pytest.mark.parametrize("Tq,group", [(1, 1), (2, 1), (3, 1), (1, 4), (2, 2), (1, 8)])
@pytest.mark.parametrize("Tk", [1, 9, 70, 130])
def test_sdpa_few_rows_with_everything(Tq, group, Tk):
    # A handful of rows per kv head (a decode step) takes the kernel's row path.
    rng = np.random.default_rng(Tq * 100 + group * 10 + Tk)
    Hkv, D = 2, 20
    q, k, v = qkv(rng, 2, Hkv * group, Hkv, Tq, Tk, D)
    mask = rng.random((2, Tk)) < 0.3
    bias = randn(rng, 1, Hkv * group, Tq, Tk)
    bias[..., 0] = -np.inf
    for causal in (False, True):
        check(q, k, v, key_padding_mask=mask, attn_bias=bias, causal=causal)


def test_sdpa_scale():
    rng = np.random.default_rng(3)
    q, k, v = qkv(rng, 1, 2, 2, 6, 70, 24)
    check(q, k, v, scale=0.37)


def test_sdpa_rows_that_see_nothing_are_zero():
    rng = np.random.default_rng(4)
    B, H, Tq, Tk, D = 3, 2, 6, 70, 20
    q, k, v = qkv(rng, B, H, H, Tq, Tk, D)
    mask = np.zeros((B, Tk), dtype=bool)
    mask[1] = True  # batch 1: every key is padding
    bias = np.zeros((1, 1, Tq, Tk), dtype=np.float32)
    bias[..., 2, :] = -np.inf  # query 2: every key hidden by the bias
    bias[..., 3, ::2] = -np.inf  # query 3: half its keys hidden
    out = check(q, k, v, key_padding_mask=mask, attn_bias=bias)
    assert not out[1].any()
    assert not out[:, :, 2].any()


def test_sdpa_causal_more_queries_than_keys():
    rng = np.random.default_rng(5)
    q, k, v = qkv(rng, 1, 2, 2, 80, 30, 16)
    out = check(q, k, v, causal=True)
    assert not out[:, :, :50].any()  # query i sees keys j <= i - 50
    assert out[:, :, 50:].any()


def test_sdpa_strided_views():
    rng = np.random.default_rng(6)
    B, H, Hkv, Tq, Tk, D = 2, 4, 2, 9, 21, 24
    # q as a [B, T, H, D] projection viewed as [B, H, T, D]; k/v a prefix of a longer cache whose
    # rows are wider than D; the last axis stays contiguous.
    q = randn(rng, B, Tq, H, D).transpose(0, 2, 1, 3)
    k = randn(rng, B, Hkv, 40, D + 8)[:, :, :Tk, :D]
    v = randn(rng, B, Hkv, 40, D + 8)[:, :, 5:5 + Tk, 8:]
    for causal in (False, True):
        check(q, k, v, causal=causal, key_padding_mask=rng.random((B, Tk)) < 0.3)


def test_sdpa_long_decode_and_many_tiles():
    rng = np.random.default_rng(7)
    q, k, v = qkv(rng, 1, 4, 2, 1, 1000, 64)
    check(q, k, v, key_padding_mask=rng.random((1, 1000)) < 0.5)
    q, k, v = qkv(rng, 1, 2, 2, 300, 300, 32)
    check(q, k, v, causal=True)


def test_sdpa_threads_agree():
    rng = np.random.default_rng(8)
    q, k, v = qkv(rng, 2, 4, 4, 100, 100, 32)
    before = pytransformer.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            pytransformer.set_num_threads(n)
            outs.append(ops.scaled_dot_product_attention(q, k, v, causal=True))
    finally:
        pytransformer.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


# ---- PyTorch ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 4, 4, 16, 16, 32), (1, 8, 2, 7, 70, 64), (2, 2, 2, 1, 33, 130),
                                   (1, 3, 3, 65, 65, 80), (1, 4, 1, 20, 50, 7)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding,causal,bias", [(False, False, False), (True, False, False),
                                                 (False, True, False), (True, True, True)])
def test_sdpa_matches_torch(shape, padding, causal, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(sum(shape) + 1)
    B, H, Hkv, Tq, Tk, D = shape
    q, k, v = qkv(rng, *shape)
    # Torch's is_causal aligns the first query with the first key, ours the last ones (Tq <= Tk
    # here), so torch gets the masks as one additive mask. Key 0 is never padded: torch gives NaN
    # for a row that sees no key.
    visible = np.ones((B, 1, Tq, Tk), dtype=bool)
    mask = None
    if padding:
        mask = rng.random((B, Tk)) < 0.3
        mask[:, 0] = False
        visible &= ~mask[:, None, None, :]
    if causal:
        visible &= np.tril(np.ones((Tq, Tk), dtype=bool), k=Tk - Tq)[None, None]
    attn_bias = randn(rng, 1, H, Tq, Tk) if bias else None
    additive = np.where(visible, 0.0, -np.inf).astype(np.float32)
    if bias:
        additive = additive + attn_bias
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v),
        attn_mask=torch.from_numpy(additive), enable_gqa=H != Hkv).numpy()
    ours = ops.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=causal,
                                            attn_bias=attn_bias)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)


# B, H, Hkv, Tq, Tk, D, sliding_window: windows shorter, equal and longer than a key tile (64),
# the row path (Tq <= 4 rows) and the block path, GQA, more keys than queries (a decode step).
WINDOW_CASES = [
    (1, 2, 2, 40, 40, 16, 1),
    (2, 4, 2, 70, 70, 32, 5),
    (1, 2, 1, 130, 130, 64, 64),
    (1, 3, 3, 65, 200, 24, 70),
    (2, 8, 2, 1, 300, 64, 100),   # decode: one query, GQA rows of 4 heads
    (1, 2, 2, 3, 150, 128, 17),   # a few queries: the row path
    (1, 2, 2, 20, 20, 16, 100),   # a window wider than the sequence: plain causal
]


@pytest.mark.parametrize("shape", WINDOW_CASES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding", [False, True])
def test_sdpa_sliding_window_matches_reference(shape, padding):
    rng = np.random.default_rng(sum(shape))
    *dims, window = shape
    B, H, Hkv, Tq, Tk, D = dims
    q, k, v = qkv(rng, *dims)
    mask = rng.random((B, Tk)) < 0.3 if padding else None
    ours = check(q, k, v, key_padding_mask=mask, causal=True, sliding_window=window)
    if window < Tk:  # the window hides keys: the result is not plain causal attention
        causal = reference.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=True)
        assert np.abs(ours - causal).max() > 1e-3


def test_sdpa_sliding_window_matches_torch():
    """Against PyTorch with the band given as a boolean mask: key j visible to query i when
    i + Tk - Tq - window < j <= i + Tk - Tq (transformers' sliding-window mask)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    B, H, Hkv, Tq, Tk, D, window = 2, 4, 2, 50, 90, 32, 12
    q, k, v = qkv(rng, B, H, Hkv, Tq, Tk, D)
    i = np.arange(Tq)[:, None] + Tk - Tq
    j = np.arange(Tk)[None, :]
    band = (j <= i) & (j > i - window)
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v),
        attn_mask=torch.from_numpy(band), enable_gqa=True).numpy()
    ours = ops.scaled_dot_product_attention(q, k, v, causal=True, sliding_window=window)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("lengths", [[5, 0, 9], [130, 70, 1]])
def test_sdpa_sliding_window_packed_sequences(rng, lengths):
    """The window counts each packed sequence's own positions."""
    B, T, window = len(lengths), max(lengths), 6
    q, k, v = qkv(rng, B, 4, 2, T, T, 16)
    packed = [_pack(t, lengths) for t in (q, k, v)]
    offsets = packed[0][1]
    out = ops.scaled_dot_product_attention(packed[0][0], packed[1][0], packed[2][0], causal=True,
                                           q_offsets=offsets, k_offsets=offsets,
                                           sliding_window=window)
    for b, n in enumerate(lengths):
        expected = reference.scaled_dot_product_attention(
            q[b:b + 1, :, :n], k[b:b + 1, :, :n], v[b:b + 1, :, :n], causal=True,
            sliding_window=window)
        np.testing.assert_allclose(out[:, :, offsets[b]:offsets[b + 1]], expected, rtol=0, atol=ATOL)


def test_sdpa_sliding_window_errors(rng):
    q, k, v = qkv(rng, 1, 2, 2, 4, 4, 8)
    with pytest.raises(ValueError, match="sliding_window: expected .* with causal attention, got 3 "
                                         "without causal"):
        ops.scaled_dot_product_attention(q, k, v, sliding_window=3)
    for bad, error in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="^sliding_window: expected"):
            ops.scaled_dot_product_attention(q, k, v, causal=True, sliding_window=bad)
    with pytest.raises(ValueError, match="sliding_window: expected"):
        _core.attention(q, k, v, None, True, None, 1.0, sliding_window=-1)


def torch_mha(torch, E, H, kdim, seed):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True, kdim=kdim, vdim=kdim).eval()
    with torch.no_grad():  # non-zero biases, so that a wrong bias would show
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    if mha._qkv_same_embed_dim:
        qw, kw, vw = (w.detach().numpy() for w in mha.in_proj_weight.chunk(3))
    else:
        qw, kw, vw = (w.detach().numpy() for w in (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight))
    qb, kb, vb = (b.detach().numpy() for b in mha.in_proj_bias.chunk(3))
    weights = dict(q_weight=qw, k_weight=kw, v_weight=vw, o_weight=mha.out_proj.weight.detach().numpy(),
                   q_bias=qb, k_bias=kb, v_bias=vb, o_bias=mha.out_proj.bias.detach().numpy())
    return mha, weights


@pytest.mark.parametrize("B,Tq,Tk,E,H,kdim", [(2, 9, 9, 64, 4, 64), (3, 1, 17, 48, 6, 48),
                                              (2, 70, 70, 96, 3, 96), (2, 5, 40, 64, 8, 24)])
@pytest.mark.parametrize("padding", [False, True])
def test_multi_head_attention_matches_torch(B, Tq, Tk, E, H, kdim, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(B * Tq + Tk)
    mha, weights = torch_mha(torch, E, H, kdim, seed=Tk)
    query = randn(rng, B, Tq, E)
    self_attention = Tq == Tk and kdim == E
    key = query if self_attention else randn(rng, B, Tk, kdim)
    value = query if self_attention else randn(rng, B, Tk, kdim)
    mask = None
    if padding:
        mask = rng.random((B, Tk)) < 0.4
        mask[:, 0] = False  # torch gives NaN for a row with every key padded
    with torch.no_grad():
        expected, _ = mha(torch.from_numpy(query), torch.from_numpy(key), torch.from_numpy(value),
                          key_padding_mask=None if mask is None else torch.from_numpy(mask),
                          need_weights=False)
    ours = ops.multi_head_attention(query, key, value, num_heads=H, key_padding_mask=mask, **weights)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=0, atol=ATOL)


def test_multi_head_attention_causal_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    B, T, E, H = 2, 70, 64, 4
    mha, weights = torch_mha(torch, E, H, E, seed=1)
    x = randn(rng, B, T, E)
    mask = rng.random((B, T)) < 0.3
    mask[:, 0] = False
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    with torch.no_grad():
        expected, _ = mha(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(mask),
                          attn_mask=future, need_weights=False)
    ours = ops.multi_head_attention(x, x, x, num_heads=H, key_padding_mask=mask, causal=True, **weights)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_grouped_query_matches_reference(causal):
    rng = np.random.default_rng(12)
    B, T, E, H, Hkv = 2, 37, 64, 8, 2
    D = E // H
    x = randn(rng, B, T, E)
    weights = dict(q_weight=randn(rng, E, E) / 8, k_weight=randn(rng, Hkv * D, E) / 8,
                   v_weight=randn(rng, Hkv * D, E) / 8, o_weight=randn(rng, E, E) / 8)
    mask = rng.random((B, T)) < 0.3
    kwargs = dict(num_heads=H, num_kv_heads=Hkv, key_padding_mask=mask, causal=causal, **weights)
    np.testing.assert_allclose(ops.multi_head_attention(x, x, x, **kwargs),
                               reference.multi_head_attention(x, x, x, **kwargs), rtol=0, atol=ATOL)


def _pack(x, lengths):
    """[B, H, T, D] padded at the end -> [1, H, sum(lengths), D] and the offsets [B + 1]."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    packed = np.concatenate([x[b:b + 1, :, :n] for b, n in enumerate(lengths)], axis=2)
    return np.ascontiguousarray(packed), offsets


@pytest.mark.parametrize("lengths", [[5, 0, 9], [1], [64, 3, 17, 1], [130, 70]])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("H,Hkv,D", [(4, 2, 24), (12, 12, 32), (2, 1, 64)])
def test_sdpa_packed_sequences_match_padded_ones(rng, lengths, causal, H, Hkv, D):
    """Padding-free (packed) self-attention equals key-padding-masked attention on the real
    positions of each sequence."""
    B, T = len(lengths), max(max(lengths), 1)
    q, k, v = qkv(rng, B, H, Hkv, T, T, D)
    padding = np.arange(T)[None, :] >= np.array(lengths)[:, None]
    packed = [_pack(t, lengths) for t in (q, k, v)]
    offsets = packed[0][1]
    out = ops.scaled_dot_product_attention(packed[0][0], packed[1][0], packed[2][0], causal=causal,
                                           q_offsets=offsets, k_offsets=offsets)
    assert out.shape == packed[0][0].shape
    for b, n in enumerate(lengths):
        if n == 0:
            continue
        expected = reference.scaled_dot_product_attention(q[b:b + 1, :, :n], k[b:b + 1, :, :n],
                                                          v[b:b + 1, :, :n], causal=causal)
        got = out[:, :, offsets[b]:offsets[b + 1]]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # The padded computation agrees on the real rows too.
    padded = ops.scaled_dot_product_attention(q, k, v, key_padding_mask=padding, causal=causal)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[:, :, offsets[b]:offsets[b + 1]], padded[b:b + 1, :, :n],
                                   rtol=0, atol=1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_packed_sequences_with_a_bias(rng, causal):
    """A bias [B, H, longest, longest] with packed sequences: sequence b reads the top-left
    corner of its slice (a relative position bias, the same for all, is passed once with
    batch stride 0)."""
    lengths = [5, 0, 70, 1]
    B, T = len(lengths), max(lengths)
    q, k, v = qkv(rng, B, 4, 2, T, T, 16)
    packed = [_pack(t, lengths) for t in (q, k, v)]
    offsets = packed[0][1]
    for bias in (randn(rng, B, 4, T, T), randn(rng, 1, 4, T, T)):
        out = ops.scaled_dot_product_attention(packed[0][0], packed[1][0], packed[2][0],
                                               causal=causal, attn_bias=bias, q_offsets=offsets,
                                               k_offsets=offsets)
        for b, n in enumerate(lengths):
            expected = reference.scaled_dot_product_attention(
                q[b:b + 1, :, :n], k[b:b + 1, :, :n], v[b:b + 1, :, :n], causal=causal,
                attn_bias=bias[min(b, len(bias) - 1)][None, :, :n, :n])
            np.testing.assert_allclose(out[:, :, offsets[b]:offsets[b + 1]], expected, rtol=0,
                                       atol=ATOL)
    with pytest.raises(ValueError, match="attn_bias: shape"):
        ops.scaled_dot_product_attention(packed[0][0], packed[1][0], packed[2][0],
                                         attn_bias=randn(rng, B, 4, T + 1, T), q_offsets=offsets,
                                         k_offsets=offsets)


def test_sdpa_dense_queries_over_packed_keys(rng):
    """Cross-attention of (padded) decoder queries over a packed encoder output."""
    lengths = [7, 1, 12]
    q = randn(rng, 3, 4, 5, 16)
    _, k, v = qkv(rng, 3, 4, 4, 12, 12, 16)
    k_packed, offsets = _pack(k, lengths)
    v_packed, _ = _pack(v, lengths)
    out = ops.scaled_dot_product_attention(q, k_packed, v_packed, k_offsets=offsets)
    for b, n in enumerate(lengths):
        expected = reference.scaled_dot_product_attention(q[b:b + 1], k[b:b + 1, :, :n], v[b:b + 1, :, :n])
        np.testing.assert_allclose(out[b:b + 1], expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("offsets,match", [
    ([0, 3, 2, 12], "non-decreasing"), ([1, 5, 12], "non-decreasing"), ([0, 5, 11], "last offset 11"),
])
def test_sdpa_packed_offsets_are_checked(rng, offsets, match):
    q, k, v = qkv(rng, 1, 2, 2, 12, 12, 8)
    with pytest.raises(ValueError, match="q_offsets: .*" + match):
        ops.scaled_dot_product_attention(q, k, v, q_offsets=np.array(offsets), k_offsets=np.array(offsets))
    with pytest.raises(TypeError, match="k_offsets"):
        ops.scaled_dot_product_attention(q, k, v, k_offsets=np.array([0.0, 12.0]))


@pytest.mark.parametrize("Tq", [1, 5, 70])  # the row path and the block path
def test_sdpa_nan_in_a_query_or_key_gives_nan_like_the_reference(Tq):
    """A NaN score makes its softmax row NaN, as softmax does (and PyTorch's math path for a NaN
    key), instead of being clamped away into a finite, wrong output."""
    rng = np.random.default_rng(11)
    q, k, v = qkv(rng, 1, 2, 2, Tq, 70, 16)
    q[0, 0, Tq - 1, 3] = np.nan  # one query of head 0
    k[0, 1, 7, 0] = np.nan  # one key of head 1: every query of head 1
    ours = ops.scaled_dot_product_attention(q, k, v)
    expected = reference.scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    assert np.isnan(expected[0, 0, Tq - 1]).all() and np.isnan(expected[0, 1]).all()
    finite = ~np.isnan(expected)
    np.testing.assert_allclose(ours[finite], expected[finite], rtol=0, atol=ATOL)


@pytest.mark.parametrize("alias", ["q", "k", "v", "bias"])
def test_attention_out_may_not_overlap_an_input(alias):
    """The kernel writes out while it still reads its inputs: an overlapping out would read back
    its own results (k or v aliased: errors of 0.4 before this was checked)."""
    rng = np.random.default_rng(12)
    q, k, v = qkv(rng, 1, 2, 2, 8, 8, 16)
    bias = randn(rng, 1, 2, 8, 8 * 2).reshape(1, 2, 8, 16)[..., :8]
    inputs = {"q": q, "k": k, "v": v, "bias": bias.copy()}
    out = inputs[alias] if alias != "bias" else np.ascontiguousarray(
        np.broadcast_to(inputs["bias"][..., :1], (1, 2, 8, 16)))
    if alias == "bias":
        inputs["bias"] = out[..., :8]
    with pytest.raises(ValueError, match=f"^out: .*{'attn_bias' if alias == 'bias' else alias}"):
        _core.attention(inputs["q"], inputs["k"], inputs["v"], None, False,
                        inputs["bias"] if alias == "bias" else None, 0.25, out)
