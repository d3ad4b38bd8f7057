"""_core.TransformerLayer (csrc/model/transformer_layer.cpp), a whole layer in one call, against
a NumPy layer written here from pytransformer.reference's functions: a post-LN encoder
(BERT-like) on packed and on padded input, a pre-LN decoder (LLaMA-like: RMSNorm, grouped-query
attention, rotary positions, SwiGLU) run whole and step by step through a KVCache, a post-LN
decoder with cross-attention (Marian-like), a GPT-NeoX-like decoder (attention and feed-forward
side by side from the layer's input, rotary positions on part of each head), int8 Linears
against their dequantized weights, thread counts, and the errors."""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest

import pytransformer
from pytransformer import _core
from pytransformer import reference as R
from pytransformer.quantize import quantize_rows

from conftest import ATOL, assert_close

EPS = 1e-5
NORMS = ("self_norm", "q_norm", "k_norm", "cross_norm", "ffn_norm")
# int8 Linears quantize each token's activations per call (pytransformer/quantize.py): each
# product of a dot product carries ~(|x| scale_w + |w| scale_x) / 2 of rounding error, and the
# layer's four GEMMs in a row compound it. tests/test_ops_linear_int8.py allows 0.05 for one
# GEMM; the norms bring each block back to unit scale, so the layer stays within twice that
# (measured: 0.045 here, while scales off by 5% give errors past 0.1).
INT8_ATOL = 0.1


@dataclass(frozen=True)
class Spec:
    """A layer's shape and kind: what _core.TransformerLayer takes besides its weights."""
    d_model: int
    heads: int
    kv_heads: int
    head_dim: int
    pre_norm: bool
    rms: bool  # RMSNorm and no bias anywhere (LLaMA); else LayerNorm, every bias present
    activation: str  # a name of both reference's activations and _core.Activation
    gated: bool = False
    rotary_base: Optional[float] = None
    cross: bool = False
    d_ff: int = 64
    sliding_window: int = 0  # of causal self-attention; 0 = none
    qk_norm: bool = False  # RMSNorm of each q and k head over D before rotary (Qwen3)
    rotary_dim: int = 0  # features of each head rotated; 0 = all (GPT-NeoX, Phi: fewer)
    parallel_residual: bool = False  # x + attn(norm1(x)) + ffn(norm2(x)) (GPT-NeoX, Phi)


BERT = Spec(48, 4, 4, 12, pre_norm=False, rms=False, activation="gelu")
LLAMA = Spec(32, 4, 2, 8, pre_norm=True, rms=True, activation="silu", gated=True,
             rotary_base=10000.0)
MARIAN = Spec(32, 4, 4, 8, pre_norm=False, rms=False, activation="relu", cross=True)
NEOX = Spec(32, 4, 4, 8, pre_norm=True, rms=False, activation="gelu", rotary_base=10000.0,
            rotary_dim=4, parallel_residual=True)


def normal(rng, *shape, scale=1.0, mean=0.0):
    return (mean + scale * rng.standard_normal(shape)).astype(np.float32)


def random_weights(rng, s):
    """{constructor argument: (weight, bias or None)} of every Linear and Norm of a layer."""
    def linear(out_features, in_features):
        return (normal(rng, out_features, in_features, scale=0.2),
                None if s.rms else normal(rng, out_features, scale=0.2))

    def norm():
        return normal(rng, s.d_model, scale=0.2, mean=1.0), None if s.rms else normal(
            rng, s.d_model, scale=0.2)

    E, F, HD = s.d_model, s.d_ff, s.heads * s.head_dim
    p = dict(qkv=linear((s.heads + 2 * s.kv_heads) * s.head_dim, E), out=linear(E, HD),
             self_norm=norm(), up=linear(F, E), down=linear(E, F), ffn_norm=norm())
    if s.gated:
        p["gate"] = linear(F, E)
    if s.qk_norm:
        p["q_norm"] = (normal(rng, s.head_dim, scale=0.2, mean=1.0), None)
        p["k_norm"] = (normal(rng, s.head_dim, scale=0.2, mean=1.0), None)
    if s.cross:
        p.update(cross_q=linear(HD, E), cross_out=linear(E, HD), cross_norm=norm())
    return p


def quantized(p):
    """p with every Linear weight replaced by its int8 form (q, scales)."""
    return {name: (w if name in NORMS else quantize_rows(w), b) for name, (w, b) in p.items()}


def dense(weight):
    """A Linear weight as float32: int8 ones dequantized, weight_int8 * scale per row."""
    if isinstance(weight, tuple):
        q, scales = weight
        return q.astype(np.float32) * scales[:, None]
    return weight


def build(s, p, **overrides):
    """The _core.TransformerLayer of these weights (overrides: constructor arguments)."""
    def part(name, weight, bias):
        if name in NORMS:
            return _core.Norm(weight, bias, eps=EPS, rms=s.rms)
        if isinstance(weight, tuple):
            return _core.PackedLinearInt8(*weight, bias)
        return _core.PackedLinear(weight, bias)

    args = dict(heads=s.heads, kv_heads=s.kv_heads, head_dim=s.head_dim, pre_norm=s.pre_norm,
                rotary_base=s.rotary_base, rotary_dim=s.rotary_dim,
                parallel_residual=s.parallel_residual, sliding_window=s.sliding_window,
                activation=getattr(_core.Activation, s.activation))
    args.update({name: part(name, *wb) for name, wb in p.items()})
    args.update(overrides)
    return _core.TransformerLayer(**args)


def reference(s, p, h, *, mask=None, causal=False, positions=None, memory=None):
    """The layer in NumPy on h [B, T, E]: (out [B, T, E], the self-attention's keys and values
    [B, Hkv, T, D], keys rotated). memory: (keys, values) [B, Hkv, S, D] to cross-attend to."""
    B, T, _ = h.shape
    D = s.head_dim
    lin = lambda x, name, act=None: R.linear(x, dense(p[name][0]), p[name][1], act)
    heads = lambda x, n: x.reshape(B, T, n, D).transpose(0, 2, 1, 3)
    merge = lambda x: x.transpose(0, 2, 1, 3).reshape(B, T, -1)
    kv = {}

    def self_attention(x):
        q, k, v = np.split(lin(x, "qkv"), [s.heads * D, (s.heads + s.kv_heads) * D], axis=-1)
        q, k, v = heads(q, s.heads), heads(k, s.kv_heads), heads(v, s.kv_heads)
        if s.qk_norm:
            q, k = R.rms_norm(q, p["q_norm"][0], EPS), R.rms_norm(k, p["k_norm"][0], EPS)
        if s.rotary_base:
            q, k = (R.rotary_embedding(t, positions, s.rotary_base, s.rotary_dim or None)
                    for t in (q, k))
        kv.update(k=k, v=v)
        context = R.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=causal,
                                                 sliding_window=s.sliding_window or None)
        return lin(merge(context), "out")

    def cross_attention(x):
        q = heads(lin(x, "cross_q"), s.heads)
        return lin(merge(R.scaled_dot_product_attention(q, *memory)), "cross_out")

    def feed_forward(x):
        if s.gated:
            (wg, bg), (wu, bu), (wd, bd) = p["gate"], p["up"], p["down"]
            return R.gated_feed_forward(x, dense(wg), dense(wu), dense(wd), s.activation,
                                        bg, bu, bd)
        return lin(lin(x, "up", s.activation), "down")

    def norm(name, x):
        weight, bias = p[name]
        return R.rms_norm(x, weight, EPS) if s.rms else R.layer_norm(x, weight, bias, EPS)

    if s.parallel_residual:  # both blocks read the layer's input
        return h + self_attention(norm("self_norm", h)) + feed_forward(norm("ffn_norm", h)), \
            kv["k"], kv["v"]
    blocks = [("self_norm", self_attention)]
    if memory is not None:
        blocks.append(("cross_norm", cross_attention))
    blocks.append(("ffn_norm", feed_forward))
    x = h
    for name, block in blocks:
        x = x + block(norm(name, x)) if s.pre_norm else norm(name, x + block(x))
    return x, kv["k"], kv["v"]


LENGTHS = (5, 1, 9)


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_encoder_packed_sequences_attend_only_to_themselves(isa, rng, int8):
    p = random_weights(rng, BERT)
    if int8:
        p = quantized(p)
    sequences = [normal(rng, 1, n, BERT.d_model) for n in LENGTHS]
    offsets = np.cumsum((0,) + LENGTHS).astype(np.int64)
    got = build(BERT, p).forward(np.concatenate(sequences, axis=1), offsets=offsets)
    want = np.concatenate([reference(BERT, p, x)[0] for x in sequences], axis=1)
    assert_close(got, want, INT8_ATOL if int8 else ATOL)


def test_encoder_padded_batch_ignores_padding(isa, rng):
    p = random_weights(rng, BERT)
    h = normal(rng, len(LENGTHS), max(LENGTHS), BERT.d_model)  # padding holds noise too
    mask = np.arange(max(LENGTHS)) >= np.array(LENGTHS)[:, None]
    got = build(BERT, p).forward(h, key_padding_mask=mask)
    for b, n in enumerate(LENGTHS):
        assert_close(got[b, :n], reference(BERT, p, h[b:b + 1, :n])[0][0])


def decoder_case(rng, T=7, pad=2, spec=LLAMA):
    """LLaMA-like weights and two rows of T tokens, row 1 left-padded by `pad`, positions
    counting each row's real tokens: (weights, h, key_padding_mask, positions)."""
    mask = np.zeros((2, T), bool)
    mask[1, :pad] = True
    positions = np.maximum(np.cumsum(~mask, axis=1) - 1, 0).astype(np.int64)
    return random_weights(rng, spec), normal(rng, 2, T, spec.d_model), mask, positions


@pytest.mark.parametrize("spec", [LLAMA, dataclasses.replace(LLAMA, sliding_window=3),
                                  dataclasses.replace(LLAMA, qk_norm=True), NEOX],
                         ids=["llama", "sliding-window", "qk-norm", "neox"])
def test_decoder_causal_forward(isa, rng, spec):
    p, h, mask, positions = decoder_case(rng, spec=spec)
    got = build(spec, p).forward(h, positions=positions, key_padding_mask=mask, causal=True)
    want = reference(spec, p, h, mask=mask, causal=True, positions=positions)[0]
    assert_close(got, want)


@pytest.mark.parametrize("spec", [LLAMA, dataclasses.replace(LLAMA, sliding_window=3),
                                  dataclasses.replace(LLAMA, qk_norm=True), NEOX],
                         ids=["llama", "sliding-window", "qk-norm", "neox"])
def test_decoder_incremental_decoding_matches_full_sequence(isa, rng, spec):
    p, h, mask, positions = decoder_case(rng, spec=spec)
    want, want_k, want_v = reference(spec, p, h, mask=mask, causal=True, positions=positions)
    layer = build(spec, p)
    cache = _core.KVCache(2, 2, spec.kv_heads, 16, spec.head_dim)
    start = 0
    for stop in (4, 5, 6, 7):  # a 4-token prompt, then one token a step
        got = layer.forward(np.ascontiguousarray(h[:, start:stop]),
                            positions=np.ascontiguousarray(positions[:, start:stop]),
                            key_padding_mask=mask[:, :stop], causal=True, cache=cache,
                            cache_layer=1, cache_start=start)
        assert_close(got, want[:, start:stop])
        start = stop
    assert_close(cache.keys(1)[:, :, :start], want_k)
    assert_close(cache.values(1)[:, :, :start], want_v)


def test_cross_attention_reads_each_rows_own_memory(isa, rng):
    p = random_weights(rng, MARIAN)
    h = normal(rng, 2, 3, MARIAN.d_model)
    sources = (4, 6)
    memory = [normal(rng, 2, 1, MARIAN.kv_heads, n, MARIAN.head_dim) for n in sources]
    got = build(MARIAN, p).forward(
        h, causal=True, memory_k=np.concatenate([m[0] for m in memory], axis=2),
        memory_v=np.concatenate([m[1] for m in memory], axis=2),
        memory_offsets=np.cumsum((0,) + sources).astype(np.int64))
    for b in range(2):
        assert_close(got[b], reference(MARIAN, p, h[b:b + 1], causal=True, memory=memory[b])[0][0])


def test_packed_queries_cross_attend_to_their_own_packed_memory(isa, rng):
    p = random_weights(rng, MARIAN)
    targets, sources = (2, 3), (4, 6)
    h = [normal(rng, 1, n, MARIAN.d_model) for n in targets]
    memory = [normal(rng, 2, 1, MARIAN.kv_heads, n, MARIAN.head_dim) for n in sources]
    got = build(MARIAN, p).forward(
        np.concatenate(h, axis=1), offsets=np.cumsum((0,) + targets).astype(np.int64),
        memory_k=np.concatenate([m[0] for m in memory], axis=2),
        memory_v=np.concatenate([m[1] for m in memory], axis=2),
        memory_offsets=np.cumsum((0,) + sources).astype(np.int64))
    want = [reference(MARIAN, p, x, memory=m)[0] for x, m in zip(h, memory)]
    assert_close(got, np.concatenate(want, axis=1))


def test_two_threads_match_one(rng):
    # 192 tokens: the GEMMs and the attention are past the sizes at which they are split.
    p, h, mask, positions = decoder_case(rng, T=96, pad=5)
    layer = build(LLAMA, p)
    previous = pytransformer.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            pytransformer.set_num_threads(threads)
            outs.append(layer.forward(h, positions=positions, key_padding_mask=mask, causal=True))
    finally:
        pytransformer.set_num_threads(previous)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_errors_name_the_argument(rng):
    p = random_weights(rng, LLAMA)
    E, D = LLAMA.d_model, LLAMA.head_dim
    wrong = _core.PackedLinear(normal(rng, 3, E))
    with pytest.raises(TypeError, match="qkv"):
        build(LLAMA, p, qkv=object())
    with pytest.raises(ValueError, match="qkv"):
        build(LLAMA, p, qkv=wrong)
    with pytest.raises(ValueError, match="gate"):
        build(LLAMA, p, gate=wrong)
    with pytest.raises(ValueError, match="kv_heads"):
        build(LLAMA, p, kv_heads=3)
    with pytest.raises(ValueError, match="heads"):  # (H + 2 Hkv) D wrapped to the qkv size
        build(LLAMA, p, heads=2**62 + 8, kv_heads=2**62 + 8)
    with pytest.raises(ValueError, match="bias"):
        _core.Norm(np.ones(E, np.float32), np.zeros(E, np.float32), rms=True)
    with pytest.raises(ValueError, match="^sliding_window: expected"):
        build(LLAMA, p, sliding_window=-1)
    head_norm = _core.Norm(np.ones(D, np.float32), rms=True)
    with pytest.raises(ValueError, match="q_norm, k_norm: expected both or neither"):
        build(LLAMA, p, q_norm=head_norm)
    with pytest.raises(ValueError, match=f"k_norm: expected weight .* of {D} features"):
        build(LLAMA, p, q_norm=head_norm, k_norm=_core.Norm(np.ones(E, np.float32), rms=True))
    with pytest.raises(ValueError, match="sliding_window: .* without causal"):
        build(LLAMA, p, sliding_window=2).forward(normal(rng, 1, 2, E),
                                                  positions=np.arange(2, dtype=np.int64)[None])
    layer = build(LLAMA, p)
    h = normal(rng, 1, 2, E)
    positions = np.arange(2, dtype=np.int64)[None]
    with pytest.raises(ValueError, match="positions"):
        layer.forward(h)
    with pytest.raises(ValueError, match="h"):
        layer.forward(normal(rng, 1, 2, E + 1), positions=positions)
    with pytest.raises(ValueError, match="h"):
        layer.forward(h[0], positions=positions)
    cache = _core.KVCache(1, 1, LLAMA.kv_heads, 4, D)
    with pytest.raises(ValueError, match="start"):
        layer.forward(h, positions=positions + 3, cache=cache, cache_start=3)
    with pytest.raises(ValueError, match="start"):  # wrapped past 2^63: heap corruption
        layer.forward(h, positions=positions, cache=cache, cache_start=2**63 - 1)
    with pytest.raises(ValueError, match="unwritten"):  # would attend over unwritten positions
        layer.forward(h, positions=positions + 1, cache=cache, cache_start=1)
    with pytest.raises(ValueError, match="cache"):
        layer.forward(h, positions=positions, cache=_core.KVCache(1, 2, LLAMA.kv_heads, 4, D))
    with pytest.raises(ValueError, match="offsets"):
        layer.forward(h, positions=positions, cache=cache, offsets=np.array([0, 2], np.int64))
    with pytest.raises(ValueError, match="memory_k"):
        layer.forward(h, positions=positions, memory_k=normal(rng, 1, 2, 3, D),
                      memory_v=normal(rng, 1, 2, 3, D))
    marian_weights = random_weights(rng, MARIAN)
    marian = build(MARIAN, marian_weights)
    with pytest.raises(ValueError, match="memory_k"):
        marian.forward(normal(rng, 1, 2, MARIAN.d_model))
    with pytest.raises(ValueError, match="cross_q"):
        build(MARIAN, marian_weights, cross_q=None)
    for rotary_dim in (3, -2, D + 2):
        with pytest.raises(ValueError, match="^rotary_dim: "):
            build(LLAMA, p, rotary_dim=rotary_dim)
    with pytest.raises(ValueError, match="^rotary_dim: given without rotary_base"):
        build(MARIAN, marian_weights, rotary_dim=4)
    with pytest.raises(ValueError, match="^parallel_residual: expected a pre-norm layer"):
        build(MARIAN, marian_weights, parallel_residual=True)


@pytest.mark.parametrize("name", ["self_norm", "ffn_norm", "cross_norm", "cross_q", "cross_out"])
def test_norm_and_cross_errors_name_the_keyword(rng, name):
    p = random_weights(rng, MARIAN)
    weight, bias = p[name]
    p[name] = weight[:-1], None if bias is None else bias[:-1]  # one feature short
    with pytest.raises(ValueError, match=name):
        build(MARIAN, p)
