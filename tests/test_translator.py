"""The shipped number translator (pytransformer/translator/model): a real trained encoder-decoder.

Held-out inputs (numbers never seen in training, pytransformer.translator.task) must come out
right at >= 99% exact match, and our greedy decode must equal PyTorch's own greedy decode of the
same weights token for token. Nothing is trained here: PyTorch's module is rebuilt from the
committed safetensors (the inverse of export_torch's naming), so there is one copy of the
weights and no pickle.
"""

import json
import pathlib

import numpy as np
import pytest

import pytransformer
from pytransformer import weights
from pytransformer.translator import task

MODEL = pathlib.Path(pytransformer.__file__).parent / "translator" / "model"
HELD_OUT = task.held_out_pairs(500)
MIN_ACCURACY = 0.99

# PyTorch's notices about its own fast path, not about the code under test.
pytestmark = [pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")]


@pytest.fixture(scope="module")
def model():
    return pytransformer.load(MODEL)


@pytest.fixture(scope="module")
def generation():
    return json.loads((MODEL / "generation_config.json").read_text())


def sources(pairs):
    """Right-padded source ids [B, S] and the attention mask (1 = token)."""
    rows = [task.encode_source(s) for s, _ in pairs]
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), task.PAD_ID, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, 1
    return ids, mask


def our_greedy(model, pairs, max_length):
    """Greedy decode with the KV cache (start once, one step per token). Returns each row's ids
    after <s>, up to and including </s>, as PyTorch's greedy_decode does."""
    ids, mask = sources(pairs)
    cache = model.start(ids, mask, max_length=max_length)
    out = [[] for _ in pairs]
    done = np.zeros(len(pairs), dtype=bool)
    last = np.full((len(pairs), 1), task.BOS_ID, dtype=np.int64)
    for _ in range(max_length - 1):
        logits = model.step(last, cache)
        assert logits.shape == (len(pairs), 1, model.config.vocab_size)
        step = logits[:, 0].argmax(-1)
        for r in np.flatnonzero(~done):
            out[r].append(int(step[r]))
        done |= step == task.EOS_ID
        if done.all():
            break
        last = step[:, None].astype(np.int64)
    return out


def exact_match(outputs, pairs):
    return sum(task.decode_target(o) == t for o, (_, t) in zip(outputs, pairs)) / len(pairs)


# ---------------------------------------------------------------------------------------------
# the fixture itself


def test_fixture_is_small_and_complete(generation):
    files = {p.name: p.stat().st_size for p in MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json",
            "generation_config.json"} <= set(files)
    assert sum(files.values()) < 2 * 1024 * 1024
    assert generation["decoder_start_token_id"] == task.BOS_ID
    assert generation["eos_token_id"] == task.EOS_ID
    assert generation["pad_token_id"] == task.PAD_ID


def test_tokenizer_matches_task():
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    for source, target in HELD_OUT[:50]:
        assert tok.encode(source).ids == task.encode_source(source)
        ids = [task.BOS_ID] + task.encode_target(target) + [task.EOS_ID]
        assert tok.decode(ids, skip_special_tokens=True) == target
    # What a person types: capitals, hyphens and commas read as plain words.
    assert tok.encode("Forty-Two Thousand, and Seven").ids == task.encode_source(
        "forty two thousand and seven")


def test_held_out_split_is_disjoint_from_training():
    held_out = {int(t) for _, t in HELD_OUT}
    assert len(held_out) == len(HELD_OUT)
    assert not held_out & {int(t) for _, t in task.pairs("train", 20000, seed=0)}
    assert all(task.is_held_out(n) for n in held_out)


# ---------------------------------------------------------------------------------------------
# accuracy and agreement with PyTorch


def test_greedy_held_out_accuracy(model, generation, isa):
    """On every instruction set this CPU has (the isa fixture forces each in turn)."""
    outputs = our_greedy(model, HELD_OUT, generation["max_length"])
    accuracy = exact_match(outputs, HELD_OUT)
    assert accuracy >= MIN_ACCURACY, (f"greedy exact match {accuracy:.4f} on {len(HELD_OUT)} "
                                      f"pairs ({isa})")


def torch_module(path):
    """A fresh NumberTranslator (nn.Transformer + embedding) holding the saved weights: the
    inverse of export_torch's names, every torch tensor assigned exactly once (strict)."""
    import torch

    from pytransformer.translator.train import NumberTranslator

    config, tensors = weights.load(path)
    module = NumberTranslator(config.vocab_size, config.d_model, config.num_heads,
                              config.num_layers, config.ffn_dim, config.norm_eps)
    state = {"embed.weight": tensors["embed.tokens"]}

    def put(ours, theirs, suffixes=("weight", "bias")):
        for s in suffixes:
            state[f"{theirs}.{s}"] = tensors[f"{ours}.{s}"]

    def put_layer_common(ours, theirs, attn):
        state[f"{theirs}.self_attn.in_proj_weight"] = tensors[f"{ours}.{attn}.qkv.weight"]
        state[f"{theirs}.self_attn.in_proj_bias"] = tensors[f"{ours}.{attn}.qkv.bias"]
        put(f"{ours}.{attn}.out", f"{theirs}.self_attn.out_proj")
        put(f"{ours}.ffn.up", f"{theirs}.linear1")
        put(f"{ours}.ffn.down", f"{theirs}.linear2")

    for i in range(config.num_layers):
        ours, theirs = f"encoder.{i}", f"transformer.encoder.layers.{i}"
        put_layer_common(ours, theirs, "attn")
        put(f"{ours}.attn_norm", f"{theirs}.norm1")
        put(f"{ours}.ffn_norm", f"{theirs}.norm2")
    for i in range(config.num_decoder_layers or config.num_layers):
        ours, theirs = f"decoder.{i}", f"transformer.decoder.layers.{i}"
        put_layer_common(ours, theirs, "self_attn")
        # torch's cross-attention in_proj stacks q, k, v; ours keeps q apart from k|v.
        for s, name in (("weight", "in_proj_weight"), ("bias", "in_proj_bias")):
            state[f"{theirs}.multihead_attn.{name}"] = np.concatenate(
                [tensors[f"{ours}.cross_attn.q.{s}"], tensors[f"{ours}.cross_attn.kv.{s}"]])
        put(f"{ours}.cross_attn.out", f"{theirs}.multihead_attn.out_proj")
        put(f"{ours}.self_attn_norm", f"{theirs}.norm1")
        put(f"{ours}.cross_attn_norm", f"{theirs}.norm2")
        put(f"{ours}.ffn_norm", f"{theirs}.norm3")
    put("encoder.final_norm", "transformer.encoder.norm")
    put("decoder.final_norm", "transformer.decoder.norm")
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                           strict=True)
    return module.eval()


def test_greedy_equals_pytorch_greedy(model, generation):
    torch = pytest.importorskip("torch")
    from pytransformer.translator.train import greedy_decode, pad

    pairs = HELD_OUT[:250]
    max_length = generation["max_length"]
    ours = our_greedy(model, pairs, max_length)
    module = torch_module(MODEL)
    src = pad([task.encode_source(s) for s, _ in pairs])
    with torch.no_grad():
        theirs = greedy_decode(module, src, max_length)
        # The rebuilt module is the exported one: same logits as ours on a teacher-forced batch.
        ids, mask = sources(pairs[:16])
        target = pad([[task.BOS_ID] + task.encode_target(t) for _, t in pairs[:16]])
        expected = module(torch.from_numpy(ids), target).numpy()
    got = model.forward(ids, target.numpy(), attention_mask=mask,
                        decoder_attention_mask=(target != task.PAD_ID).numpy().astype(np.int64))
    real = (target != task.PAD_ID).numpy()
    assert np.abs(got[real] - expected[real]).max() < 1e-3
    mismatches = [(s, o, t) for (s, _), o, t in zip(pairs, ours, theirs) if o != t]
    assert not mismatches, f"{len(mismatches)} of {len(pairs)} differ, e.g. {mismatches[:3]}"
    assert exact_match(theirs, pairs) >= MIN_ACCURACY


def test_beam_held_out_accuracy(model, generation):
    if not hasattr(model, "generate"):
        pytest.skip("EncoderDecoder.generate is not merged yet")
    ids, mask = sources(HELD_OUT)
    out = model.generate(ids, attention_mask=mask, num_beams=4,
                         max_length=generation["max_length"],
                         decoder_start_token_id=generation["decoder_start_token_id"],
                         eos_token_id=generation["eos_token_id"],
                         pad_token_id=generation["pad_token_id"])
    # decode_target skips <s> / <pad> and stops at </s>, whatever the layout of the rows.
    accuracy = exact_match(np.asarray(out).tolist(), HELD_OUT)
    assert accuracy >= MIN_ACCURACY, f"beam exact match {accuracy:.4f} on {len(HELD_OUT)} pairs"
