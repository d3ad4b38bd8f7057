"""EncoderDecoder.generate: an exported torch nn.Transformer vs greedy and beam loops written
here in torch (no cache: the whole target re-run each step), with padded sources; and Marian /
BART vs transformers' generate once pytransformer.load supports them (skipped until then)."""

import json
import math

import numpy as np
import pytest

import pytransformer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
nn = torch.nn

D, HEADS, FFN, VOCAB = 32, 4, 64, 60
START, EOS, PAD = 1, 2, 0
_PATH = []  # the exported folder (module fixture)

pytestmark = [pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")]


def _sinusoidal(length, d):
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    angle = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64)[None] / d)
    pe = torch.zeros(length, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe.float()


@pytest.fixture(scope="module")
def seq2seq(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Transformer(D, HEADS, 2, 2, FFN, dropout=0.0, batch_first=True).eval()
    emb = nn.Embedding(VOCAB, D)
    with torch.no_grad():
        emb.weight.normal_(0, 1.0)
    path = tmp_path_factory.mktemp("nn_transformer")
    pytransformer.export_torch(model, path, embedding=emb, embedding_scale=math.sqrt(D),
                               pad_token_id=PAD, max_positions=64)
    # our format keeps generation defaults in generation_config.json beside config.json
    with open(path / "generation_config.json", "w") as f:
        json.dump({"decoder_start_token_id": START, "eos_token_id": EOS, "pad_token_id": PAD}, f)
    _PATH[:] = [path]
    return model, emb, pytransformer.load(path)


def _logits(model, emb, src, src_pad, tgt):
    pe, scale = _sinusoidal(64, D), math.sqrt(D)
    with torch.no_grad():
        h = model(emb(src) * scale + pe[:src.shape[1]], emb(tgt) * scale + pe[:tgt.shape[1]],
                  tgt_mask=nn.Transformer.generate_square_subsequent_mask(tgt.shape[1]),
                  src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad)
        return torch.log_softmax(h[:, -1] @ emb.weight.T, -1)


def _sources():
    rng = np.random.default_rng(1)
    src = rng.integers(3, VOCAB, (3, 6))
    mask = np.ones_like(src)
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    src[mask == 0] = PAD
    return src, mask


def _torch_greedy(model, emb, src, mask, steps, eos):
    src_t, pad = torch.tensor(src), torch.tensor(mask == 0)
    out = torch.full((src.shape[0], 1), START)
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(steps):
        nxt = _logits(model, emb, src_t, pad, out).argmax(-1)
        nxt = torch.where(done, torch.tensor(PAD), nxt)
        out = torch.cat([out, nxt[:, None]], 1)
        done |= nxt == eos
        if done.all():
            break
    return out.numpy()


def test_greedy_matches_a_torch_loop(seq2seq):
    model, emb, ours = seq2seq
    src, mask = _sources()
    plain = ours.generate(src, mask, max_new_tokens=10, eos_token_id=[])
    np.testing.assert_array_equal(plain, _torch_greedy(model, emb, src, mask, 10, eos=-1))
    # a frequent token as EOS, so that rows stop and get padded
    eos = int(np.argmax(np.bincount(plain[:, 1:].reshape(-1))))
    stopped = ours.generate(src, mask, max_new_tokens=10, eos_token_id=eos)
    np.testing.assert_array_equal(stopped, _torch_greedy(model, emb, src, mask, 10, eos=eos))
    assert (stopped[:, 0] == START).all() and (stopped[:, 1:] == eos).any()


def test_beam_search_is_exhaustive_for_one_step_and_tokens_stream(seq2seq):
    """With max_new_tokens=1 beam search must return the num_beams most likely first tokens
    (HF: no EOS, length 1), scored by their log-probabilities."""
    model, emb, ours = seq2seq
    src, mask = _sources()
    seqs, scores = ours.generate(src, mask, max_new_tokens=1, num_beams=4,
                                 num_return_sequences=4, eos_token_id=[], return_scores=True)
    logp = _logits(model, emb, torch.tensor(src), torch.tensor(mask == 0),
                   torch.full((3, 1), START)).numpy()
    best = np.argsort(-logp, axis=1)[:, :4]
    np.testing.assert_array_equal(seqs[:, 1].reshape(3, 4), best)
    np.testing.assert_allclose(scores.reshape(3, 4), np.take_along_axis(logp, best, 1), atol=1e-4)
    columns = list(ours.generate_tokens(src, mask, max_new_tokens=5))
    np.testing.assert_array_equal(np.stack(columns, 1),
                                  ours.generate(src, mask, max_new_tokens=5)[:, 1:])


def test_missing_decoder_start_raises(seq2seq):
    _, _, ours = seq2seq
    saved, ours.generation_config = ours.generation_config, {}
    try:
        with pytest.raises(ValueError, match="decoder_start_token_id"):
            ours.generate(*_sources(), max_new_tokens=3)
    finally:
        ours.generation_config = saved


def test_decoder_start_past_the_vocabulary_is_named(seq2seq):
    """It was reported as "input_ids: token id 60 is outside the vocabulary"."""
    _, _, ours = seq2seq
    for name in ("decoder_start_token_id", "bos_token_id"):  # bos: the start when none is set
        saved, ours.generation_config = ours.generation_config, {name: VOCAB}
        try:
            with pytest.raises(ValueError, match=rf"^generation_config.{name}: expected a token "
                                                 rf"id in \[0, 60\)"):
                ours.generate(*_sources(), max_new_tokens=3)
        finally:
            ours.generation_config = saved
    with pytest.raises(ValueError, match=r"^decoder_start_token_id: expected a token id in \[0, 60\)"):
        ours.generate(*_sources(), max_new_tokens=3, decoder_start_token_id=VOCAB)
    with pytest.raises(ValueError, match="^group_size: expected a positive int, got 0"):
        ours.start(*_sources(), max_length=4, group_size=0)


def _hf_seq2seq(kind, path):
    torch.manual_seed(4)
    common = dict(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                  encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                  decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=PAD,
                  eos_token_id=EOS, decoder_start_token_id=START, forced_eos_token_id=EOS)
    if kind == "marian":
        hf = transformers.MarianMTModel(transformers.MarianConfig(**common))
    else:
        hf = transformers.BartForConditionalGeneration(transformers.BartConfig(
            bos_token_id=START, forced_bos_token_id=5, **common))
    hf.eval().save_pretrained(path)
    try:
        return hf, pytransformer.load(path)
    except ValueError as error:
        if "model_type" in str(error):
            pytest.skip(f"pytransformer.load does not support {kind} yet: {error}")
        raise


@pytest.mark.parametrize("kind", ["marian", "bart"])
@pytest.mark.parametrize("kwargs", [dict(), dict(num_beams=4, num_return_sequences=2),
                                    dict(num_beams=3, length_penalty=0.5, early_stopping=True)],
                         ids=["greedy", "beam4", "beam3_lp"])
def test_hf_seq2seq_generate_matches_transformers(kind, kwargs, tmp_path):
    hf, ours = _hf_seq2seq(kind, tmp_path)
    src, mask = _sources()
    with torch.no_grad():
        out = hf.generate(torch.tensor(src), attention_mask=torch.tensor(mask), max_new_tokens=8,
                          do_sample=False, return_dict_in_generate=True, output_scores=True,
                          **kwargs)
    seqs, scores = ours.generate(src, mask, max_new_tokens=8, return_scores=True, **kwargs)
    np.testing.assert_array_equal(seqs, out.sequences.numpy())
    if kwargs:
        np.testing.assert_allclose(scores, out.sequences_scores.numpy(), atol=1e-4)


def test_save_keeps_the_generation_config(seq2seq, tmp_path):
    from pytransformer import weights

    src_dir = tmp_path / "copy"
    config, tensors = weights.load(_source_dir(seq2seq))
    pytransformer.save(config, tensors, src_dir, generation_config={"decoder_start_token_id": 1,
                                                                    "eos_token_id": [2, 3]})
    reloaded = pytransformer.load(src_dir)
    assert reloaded.generation_config == {"decoder_start_token_id": 1, "eos_token_id": [2, 3]}
    assert (src_dir / "generation_config.json").is_file()


def _source_dir(seq2seq):
    return _PATH[0]


def test_beam_sampling_is_reproducible(seq2seq):
    _, _, ours = seq2seq
    src, mask = _sources()
    a = ours.generate(src, mask, max_new_tokens=6, num_beams=3, do_sample=True, seed=3)
    b = ours.generate(src, mask, max_new_tokens=6, num_beams=3, do_sample=True, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape[0] == 3 and (a[:, 0] == START).all()


@pytest.mark.parametrize("kind", ["marian", "bart"])
@pytest.mark.parametrize("kwargs", [dict(), dict(num_beams=4, length_penalty=0.6, num_return_sequences=2),
                                    dict(num_beams=4, length_penalty=1.0, num_return_sequences=2)],
                         ids=["greedy", "beam4_lp0.6", "beam4_lp1.0"])
def test_hf_seq2seq_long_generation_matches_transformers(kind, kwargs, tmp_path):
    """32 new tokens with early EOS suppressed (min_new_tokens), padded sources."""
    hf, ours = _hf_seq2seq(kind, tmp_path)
    src, mask = _sources()
    options = dict(max_new_tokens=32, min_new_tokens=32, **kwargs)
    with torch.no_grad():
        out = hf.generate(torch.tensor(src), attention_mask=torch.tensor(mask), do_sample=False,
                          return_dict_in_generate=True, output_scores=True, **options)
    seqs, scores = ours.generate(src, mask, return_scores=True, **options)
    np.testing.assert_array_equal(seqs, out.sequences.numpy())
    if kwargs:
        np.testing.assert_allclose(scores, out.sequences_scores.numpy(), atol=1e-4)
