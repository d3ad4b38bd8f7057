"""The benchmark manifest: every case the benchmarks time, in one list (``CASES``).

A case names an op (the engine-adapter method that builds the call, see ``engines.py``), the
seeded inputs it runs on, and its napkin maths: the useful floating-point work and the minimum
bytes it must move. The benchmark driver, its workers and the tests all read this one list, so
nothing measured goes untested and nothing tested goes unmeasured.

Shapes are those of the models we target: B = batch, T = sequence, E = model width, H = heads,
D = head width, F = feed-forward width. MiniLM-L6 (E=384, H=12, D=32, F=1536), GPT-2 small
(E=768, F=3072, H=12, D=64), a LLaMA-style head (D=128) for rotary.

This module imports only NumPy: the workers load it without importing pytransformer.
"""

from __future__ import annotations

import fnmatch
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence

import numpy as np

F32 = 4  # bytes per float32
I64 = 8


@dataclass(frozen=True)
class Case:
    """One timed call. ``make_inputs(rng)`` returns the keyword arrays of the adapter method
    ``op``; ``params`` are its other (non-array) keyword arguments."""

    name: str
    op: str
    shape: str  # for the table, e.g. "[4096,384]x[1536,384]^T"
    make_inputs: Callable[[np.random.Generator], Dict[str, np.ndarray]]
    flops: float  # useful floating-point operations of one call
    bytes: float  # minimum bytes read + written by one call
    bound: str  # "flop" or "memory": which figure the table reports
    params: Dict[str, object] = field(default_factory=dict)
    quick: bool = False  # part of the --quick subset
    group: str = "op"  # "op" now; "model" for whole encoders / generation later
    tol: float = 1e-3  # abs + rel tolerance between engines (outputs are unit-scale)

    def inputs(self, seed: int = 0) -> Dict[str, np.ndarray]:
        """The case's inputs, the same in every process: seeded by ``seed`` and the case name
        (so choosing a subset of cases does not change any case's data)."""
        return self.make_inputs(np.random.default_rng([seed, zlib.crc32(self.name.encode())]))

    def describe(self) -> Dict[str, object]:
        return {"name": self.name, "op": self.op, "shape": self.shape, "flops": self.flops,
                "bytes": self.bytes, "bound": self.bound, "params": dict(self.params),
                "group": self.group, "tol": self.tol}


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))


# ---------------------------------------------------------------------------------------------
# Case builders, one per op: shapes in, inputs and napkin maths out.

def linear(name: str, M: int, K: int, N: int, activation=None, quick: bool = False) -> Case:
    """x [M, K] @ W[N, K]^T + b, activation fused. Packing W is load-time work: not timed."""
    def make(rng):
        return {"x": _normal(rng, M, K), "weight": _normal(rng, N, K, scale=K ** -0.5),
                "bias": _normal(rng, N, scale=0.1)}
    moved = F32 * (M * K + N * K + N + M * N)
    flops = 2.0 * M * K * N
    # Decode (M small) reads the whole weight to do 2 flops per weight: bandwidth-bound.
    bound = "memory" if flops / moved < 4 else "flop"
    act = f", {activation}" if activation else ""
    return Case(name, "linear", f"[{M},{K}]x[{N},{K}]^T{act}", make, flops, moved, bound,
                {"activation": activation}, quick)


def layer_norm(name: str, rows: int, E: int, residual: bool, quick: bool = False) -> Case:
    def make(rng):
        inputs = {"x": _normal(rng, rows, E), "weight": 1 + _normal(rng, E, scale=0.1),
                  "bias": _normal(rng, E, scale=0.1)}
        if residual:
            inputs["residual"] = _normal(rng, rows, E)
        return inputs
    arrays = 3 if residual else 2
    shape = f"[{rows},{E}]" + (" + residual" if residual else "")
    return Case(name, "layer_norm", shape, make, 8.0 * rows * E, F32 * arrays * rows * E,
                "memory", {}, quick)


def softmax(name: str, rows: int, cols: int, quick: bool = False) -> Case:
    def make(rng):
        return {"x": _normal(rng, rows, cols, scale=2.0)}
    return Case(name, "softmax", f"[{rows},{cols}]", make, 4.0 * rows * cols,
                F32 * 2 * rows * cols, "memory", {}, quick)


def activation(name: str, kind: str, rows: int, cols: int, quick: bool = False) -> Case:
    """kind: "gelu", "gelu_tanh" or "silu"."""
    def make(rng):
        return {"x": _normal(rng, rows, cols, scale=2.0)}
    return Case(name, "activation", f"[{rows},{cols}]", make, 10.0 * rows * cols,
                F32 * 2 * rows * cols, "memory", {"kind": kind}, quick)


def attention(name: str, B: int, H: int, T: int, D: int, causal: bool = False,
              padded: bool = False, quick: bool = False) -> Case:
    """Self-attention q, k, v [B, H, T, D]. padded: each sequence has a random length in
    [T/2, T] and a key padding mask hides the rest (never a fully masked row)."""
    def make(rng):
        inputs = {"q": _normal(rng, B, H, T, D), "k": _normal(rng, B, H, T, D),
                  "v": _normal(rng, B, H, T, D)}
        if padded:
            lengths = rng.integers(T // 2, T + 1, size=B)
            inputs["key_padding_mask"] = np.arange(T)[None, :] >= lengths[:, None]
        return inputs
    # Useful work: q.k and p.v over the visible (query, key) pairs, 2 flops per MAC. Padding
    # is counted as work (the kernel has to read the mask), causal's hidden half is not.
    pairs = T * (T + 1) / 2 if causal else T * T
    flops = 4.0 * B * H * pairs * D
    extras = (", causal" if causal else "") + (", key padding" if padded else "")
    return Case(name, "attention", f"B={B} H={H} T={T} D={D}{extras}", make, flops,
                F32 * 4 * B * H * T * D, "flop", {"causal": causal}, quick)


def rotary(name: str, B: int, H: int, T: int, D: int, quick: bool = False) -> Case:
    def make(rng):
        return {"x": _normal(rng, B, H, T, D), "positions": np.arange(T, dtype=np.int64)}
    return Case(name, "rotary", f"[{B},{H},{T},{D}]", make, 3.0 * B * H * T * D,
                F32 * 2 * B * H * T * D + I64 * T, "memory", {}, quick)


def embedding(name: str, B: int, T: int, vocab: int, E: int, quick: bool = False) -> Case:
    def make(rng):
        return {"ids": rng.integers(0, vocab, size=(B, T), dtype=np.int64),
                "table": _normal(rng, vocab, E)}
    # A gather: the rows read and the rows written (the table itself is mostly untouched).
    return Case(name, "embedding", f"ids[{B},{T}] from [{vocab},{E}]", make, 0.0,
                F32 * 2 * B * T * E + I64 * B * T, "memory", {}, quick)


def minilm(name: str, B: int, T: int, quick: bool = False) -> Case:
    """all-MiniLM-L6-v2 (E=384, 6 layers, H=12, F=1536) encoding B sequences of T real tokens."""
    E, F, layers = 384, 1536, 6
    def make(rng):
        return {"ids": rng.integers(1000, 20000, size=(B, T), dtype=np.int64),
                "attention_mask": np.ones((B, T), dtype=np.int64)}
    flops = layers * B * T * (2.0 * (4 * E * E + 2 * E * F) + 4.0 * T * E)
    return Case(name, "encode_minilm", f"B={B} T={T}", make, flops, F32 * 22.7e6, "flop", {},
                quick, group="model", tol=2e-3)


def transformer_base(name: str, B: int, S: int, T: int) -> Case:
    """The 2017 base Transformer (512/8/6+6/2048) forward: source with padding (random lengths
    in [S/2, S]), causal target, logits over a 1000-token vocabulary."""
    E, F, L, V = 512, 2048, 6, 1000
    def make(rng):
        lengths = rng.integers(S // 2, S + 1, size=B)
        return {"src": rng.integers(0, V, size=(B, S), dtype=np.int64),
                "tgt": rng.integers(0, V, size=(B, T), dtype=np.int64),
                "src_padding": np.arange(S)[None, :] >= lengths[:, None]}
    encoder = B * S * (2.0 * (4 * E * E + 2 * E * F) + 4.0 * S * E)
    decoder = B * T * (2.0 * (6 * E * E + 2 * E * F) + 2.0 * T * E + 4.0 * S * E) + 4.0 * B * S * E * E
    flops = L * (encoder + decoder) + 2.0 * B * T * E * V
    weights = F32 * (L * (4 * E * E + 2 * E * F) + L * (8 * E * E + 2 * E * F) + V * E)
    return Case(name, "transformer_base", f"B={B} S={S} T={T}, padding + causal", make, flops,
                weights, "flop", {}, group="model", tol=2e-3)


# ---------------------------------------------------------------------------------------------
# The manifest. New rows (model-level cases, other shapes) go here; new engines go in engines.py.

CASES: List[Case] = [
    linear("linear_ffn_up", 32 * 128, 384, 1536, quick=True),
    linear("linear_ffn_up_gelu", 32 * 128, 384, 1536, activation="gelu"),
    linear("linear_ffn_down", 32 * 128, 1536, 384),
    linear("linear_decode", 1, 768, 3072, quick=True),
    layer_norm("layer_norm", 32 * 128, 384, residual=False, quick=True),
    layer_norm("layer_norm_residual", 32 * 128, 384, residual=True),
    softmax("softmax", 32 * 12 * 128, 128),
    activation("gelu", "gelu", 32 * 128, 1536, quick=True),
    activation("gelu_tanh", "gelu_tanh", 32 * 128, 1536),
    activation("silu", "silu", 32 * 128, 1536),
    attention("attention_encoder_padded", 32, 12, 128, 32, padded=True),
    attention("attention_causal_512", 1, 12, 512, 64, causal=True, quick=True),
    rotary("rotary", 1, 32, 512, 128),
    embedding("embedding", 32, 128, 30522, 384),
    minilm("minilm_b1_t16", 1, 16, quick=True),
    minilm("minilm_b1_t128", 1, 128),
    minilm("minilm_b32_t128", 32, 128),
    transformer_base("transformer_base_b8", 8, 64, 64),
]

BY_NAME: Dict[str, Case] = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"


def select(patterns: Sequence[str] = (), quick: bool = False) -> List[Case]:
    """Cases in manifest order: those matching any of the glob ``patterns``; with no pattern,
    every case, or the quick subset if ``quick``. A pattern that matches nothing is an error."""
    if not patterns:
        return [c for c in CASES if c.quick or not quick]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(c.name, pattern) for c in CASES):
            raise ValueError(f"cases: {pattern!r} matches no case (cases: {', '.join(BY_NAME)})")
    return [c for c in CASES if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
