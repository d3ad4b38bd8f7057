"""pytransformer.Generator / Translator (text in, text out through a tokenizer.json beside the
model) and `pytransformer generate` on the command line, with a WordLevel tokenizer built here."""

import json
import math

import numpy as np
import pytest

import pytransformer
from pytransformer import cli

tokenizers = pytest.importorskip("tokenizers")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(56)]


def _write_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<pad>", "<s>", "</s>", "<unk>"])
    tok.save(str(path / "tokenizer.json"))


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("gpt2_text")
    config = transformers.GPT2Config(vocab_size=len(WORDS), n_embd=32, n_layer=2, n_head=4,
                                     n_positions=64, bos_token_id=1, eos_token_id=2,
                                     pad_token_id=0)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(path)
    _write_tokenizer(path)
    return path


@pytest.fixture(scope="module")
def seq2seq_dir(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("nn_text")
    model = torch.nn.Transformer(32, 4, 2, 2, 64, dropout=0.0, batch_first=True).eval()
    emb = torch.nn.Embedding(len(WORDS), 32)
    pytransformer.export_torch(model, path, embedding=emb, embedding_scale=math.sqrt(32),
                               pad_token_id=0, max_positions=64)
    with open(path / "generation_config.json", "w") as f:
        json.dump({"decoder_start_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}, f)
    _write_tokenizer(path)
    return path


def _words(ids):
    return " ".join(WORDS[i] for i in ids if i > 3)


def test_generator_matches_generate_on_token_ids(gpt2_dir):
    gen = pytransformer.Generator(gpt2_dir)
    prompts = ["w1 w2 w3 w4", "w9 w8"]
    texts = gen.generate_text(prompts, max_new_tokens=6)
    ids = np.array([[4 + 1, 4 + 2, 4 + 3, 4 + 4], [0, 0, 4 + 9, 4 + 8]])
    mask = (np.arange(4)[None] >= np.array([[0], [2]])).astype(np.int64)
    new = gen.model.generate(ids, mask, max_new_tokens=6)[:, 4:]
    expected = []
    for row in new:
        row = list(row)
        row = row[:row.index(2)] if 2 in row else row
        expected.append(_words(row))
    assert texts == expected
    assert len(gen.generate_text("w5", max_new_tokens=3, num_beams=2, num_return_sequences=2)) == 2


def test_translator_translates_a_batch(seq2seq_dir):
    tr = pytransformer.Translator(seq2seq_dir)
    out = tr.translate(["w1 w2 w3", "w7"], max_new_tokens=5, num_beams=3)
    ids = np.array([[5, 6, 7], [11, 0, 0]])
    seqs = tr.model.generate(ids, (ids > 0).astype(np.int64), max_new_tokens=5, num_beams=3)
    assert out == [_words(r[1:list(r).index(2)] if 2 in r else r[1:]) for r in seqs]
    with pytest.raises(ValueError, match="decoder"):  # a Generator needs a decoder-only model
        pytransformer.Generator(seq2seq_dir)


def test_missing_tokenizer_is_reported(tmp_path, gpt2_dir):
    import shutil

    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy(gpt2_dir / name, tmp_path / name)
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        pytransformer.Generator(tmp_path)


def test_cli_generate(gpt2_dir, seq2seq_dir, capsys):
    assert cli.main(["generate", "--model", str(gpt2_dir), "--max-new-tokens", "4",
                     "w1 w2", "w3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == pytransformer.Generator(gpt2_dir).generate_text(["w1 w2", "w3"],
                                                                    max_new_tokens=4)
    assert cli.main(["generate", "--model", str(seq2seq_dir), "--num-beams", "2",
                     "--max-new-tokens", "3", "w4 w5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert cli.main(["generate", "--model", str(gpt2_dir), "--top-p", "2", "--do-sample",
                     "w1"]) == 2
