"""model.generate / generate_tokens vs Hugging Face transformers' generate on the same random
weights: greedy and beam search token for token (beam scores within 1e-4), the logits
processors, EOS and padding, left-padded batches; sampling by determinism and distribution;
the encoder-decoder path vs a torch greedy loop over an exported nn.Transformer."""


import numpy as np
import pytest

import pytransformer
from pytransformer import logits as lp

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

VOCAB = 97


def _save(hf, path):
    hf.eval()
    hf.save_pretrained(path)
    return pytransformer.load(path)


def _prompts(seed=0, B=3, T=7):
    """Left-padded prompts of lengths T, T-3, 2 (padding holds token 1, masked out)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, VOCAB, (B, T))
    mask = np.ones((B, T), np.int64)
    mask[1, :3] = 0
    mask[2, :T - 2] = 0
    ids[mask == 0] = 1
    return ids, mask


def _hf(hf, ids, mask, **kwargs):
    with torch.no_grad():
        out = hf.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                          return_dict_in_generate=True, output_scores=True, **kwargs)
    scores = getattr(out, "sequences_scores", None)
    return out.sequences.numpy(), None if scores is None else scores.numpy()


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request, tmp_path_factory):
    """(hf, ours, eos): a random GPT-2 or LLaMA (GQA 8/2 heads) without EOS in its config, and a
    token its greedy continuations produce often, used as EOS so that the EOS paths run."""
    torch.manual_seed(3)
    if request.param == "gpt2":
        config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=48, n_layer=2, n_head=4,
                                         n_positions=64, bos_token_id=None, eos_token_id=None)
        hf = transformers.GPT2LMHeadModel(config)
    else:
        config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
                                          num_hidden_layers=2, num_attention_heads=8,
                                          num_key_value_heads=2, max_position_embeddings=64,
                                          bos_token_id=None, eos_token_id=None, pad_token_id=None)
        hf = transformers.LlamaForCausalLM(config)
    model = _save(hf, tmp_path_factory.mktemp(request.param))
    ids, mask = _prompts()
    greedy = model.generate(ids, mask, max_new_tokens=12)[:, ids.shape[1]:]
    counts = np.bincount(greedy.reshape(-1), minlength=VOCAB)
    return hf, model, int(np.argmax(counts))


def test_greedy_matches_transformers_with_eos_and_padding(lm):
    hf, model, eos = lm
    ids, mask = _prompts()
    ours = model.generate(ids, mask, max_new_tokens=12, eos_token_id=eos)
    theirs, _ = _hf(hf, ids, mask, max_new_tokens=12, eos_token_id=eos)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.int64
    new = ours[:, ids.shape[1]:]
    assert (new == eos).any(), "EOS never produced: the test would not exercise it"
    for row in new:  # pad (= eos, HF's default) after the first EOS
        hits = np.flatnonzero(row == eos)
        if hits.size:
            assert (row[hits[0]:] == eos).all()


def test_greedy_without_eos_runs_to_max_new_tokens(lm):
    hf, model, _ = lm
    ids, mask = _prompts(seed=1)
    ours = model.generate(ids, mask, max_new_tokens=9)
    np.testing.assert_array_equal(ours, _hf(hf, ids, mask, max_new_tokens=9)[0])
    assert ours.shape == (3, ids.shape[1] + 9)


def test_greedy_over_reused_cache_storage_full_of_nan(lm):
    # A freed cache's storage goes to the next cache of about its size (csrc/model/kv_cache.cpp)
    # without being cleared: positions must never be read before this run writes them.
    hf, model, _ = lm
    ids, mask = _prompts(seed=5)
    new = 8
    cache = model.start(ids.shape[0], ids.shape[1] + new - 1)  # the size generate asks for
    store = cache.store
    nan = np.full((store.rows, model.config.kv_heads, store.max_length, model.config.head_dim),
                  np.nan, np.float32)
    for layer in range(store.layers):
        store.write(layer, nan, nan, 0)  # every position of the storage
    del cache, store
    ours = model.generate(ids, mask, max_new_tokens=new)
    np.testing.assert_array_equal(ours, _hf(hf, ids, mask, max_new_tokens=new)[0])


@pytest.mark.parametrize("options", [
    dict(min_new_tokens=6),
    dict(repetition_penalty=1.8),
    dict(repetition_penalty=0.7),
    dict(no_repeat_ngram_size=2),
    dict(no_repeat_ngram_size=1, pad_token_id=3),
], ids=["min_new_tokens", "rep_penalty", "rep_reward", "no_repeat_2gram", "no_repeat_1gram"])
def test_processors_match_transformers(lm, options):
    hf, model, eos = lm
    ids, mask = _prompts(seed=2)
    ours = model.generate(ids, mask, max_new_tokens=10, eos_token_id=eos, **options)
    theirs, _ = _hf(hf, ids, mask, max_new_tokens=10, eos_token_id=eos, **options)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("beams,penalty,early,returned", [
    (3, 1.0, False, 1), (4, 0.5, True, 2), (4, 1.0, "never", 2), (3, 2.0, False, 3),
    (4, 1.0, True, 1)])
def test_beam_search_matches_transformers(lm, beams, penalty, early, returned):
    hf, model, eos = lm
    ids, mask = _prompts(seed=4)
    kwargs = dict(max_new_tokens=10, num_beams=beams, length_penalty=penalty,
                  early_stopping=early, num_return_sequences=returned, eos_token_id=eos)
    ours, scores = model.generate(ids, mask, return_scores=True, **kwargs)
    theirs, their_scores = _hf(hf, ids, mask, **kwargs)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(scores, their_scores, rtol=0, atol=1e-4)
    assert ours.shape[0] == 3 * returned


def test_beam_search_without_eos_and_with_processors(lm):
    hf, model, eos = lm
    ids, mask = _prompts(seed=5)
    for kwargs in (dict(num_beams=3), dict(num_beams=3, eos_token_id=[eos, 7], min_new_tokens=4,
                                           no_repeat_ngram_size=2, repetition_penalty=1.3)):
        ours, scores = model.generate(ids, mask, max_new_tokens=8, return_scores=True, **kwargs)
        theirs, their_scores = _hf(hf, ids, mask, max_new_tokens=8, **kwargs)
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(scores, their_scores, rtol=0, atol=1e-4)


def test_forced_tokens_match_transformers(lm):
    hf, model, eos = lm
    ids = np.array([[5]])  # forced BOS acts at length 1
    kwargs = dict(max_new_tokens=6, forced_bos_token_id=11, forced_eos_token_id=eos)
    ours = model.generate(ids, **kwargs)
    np.testing.assert_array_equal(ours, _hf(hf, ids, np.ones_like(ids), **kwargs)[0])
    assert ours[0, 1] == 11 and ours[0, -1] == eos


# ---------------------------------------------------------------------------------------------
# sampling

def test_sampling_is_reproducible_and_top_k_1_is_greedy(lm):
    _, model, eos = lm
    ids, mask = _prompts(seed=6)
    a = model.generate(ids, mask, max_new_tokens=8, do_sample=True, seed=7, eos_token_id=eos)
    b = model.generate(ids, mask, max_new_tokens=8, do_sample=True, seed=7, eos_token_id=eos)
    np.testing.assert_array_equal(a, b)
    greedy = model.generate(ids, mask, max_new_tokens=8, eos_token_id=eos)
    for extra in (dict(top_k=1), dict(top_p=1e-6), dict(temperature=1e-4, top_k=0)):
        sampled = model.generate(ids, mask, max_new_tokens=8, do_sample=True, seed=1,
                                 eos_token_id=eos, **extra)
        np.testing.assert_array_equal(sampled, greedy)
    many = model.generate(ids, mask, max_new_tokens=8, do_sample=True, seed=2, top_k=0,
                          num_return_sequences=4)
    assert many.shape == (12, ids.shape[1] + 8)
    assert len({tuple(r) for r in many[:4]}) > 1  # the sequences of one prompt differ


def test_warpers_match_transformers_processors():
    from transformers.generation import logits_process as hp

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, VOCAB)).astype(np.float32) * 3
    ids = rng.integers(0, VOCAB, (4, 9))
    t_ids, t_scores = torch.tensor(ids), torch.tensor(scores)
    cases = [
        (lp.top_k(scores, 5), hp.TopKLogitsWarper(5)),
        (lp.top_p(scores, 0.8), hp.TopPLogitsWarper(0.8)),
        (lp.top_p(scores, 0.3, 2), hp.TopPLogitsWarper(0.3, min_tokens_to_keep=2)),
        (lp.temperature(scores, 0.7), hp.TemperatureLogitsWarper(0.7)),
        (lp.repetition_penalty(scores, ids, 1.4, None), hp.RepetitionPenaltyLogitsProcessor(1.4)),
        (lp.no_repeat_ngram(scores, np.tile(ids[:, :3], 3), 2), None),
    ]
    for ours, processor in cases[:-1]:
        np.testing.assert_allclose(ours, processor(t_ids, t_scores.clone()).numpy(), rtol=1e-6)
    ngram_ids = torch.tensor(np.tile(ids[:, :3], 3))
    theirs = hp.NoRepeatNGramLogitsProcessor(2)(ngram_ids, t_scores.clone()).numpy()
    np.testing.assert_array_equal(cases[-1][0], theirs)
    np.testing.assert_allclose(lp.log_softmax(scores),
                               torch.log_softmax(t_scores, -1).numpy(), atol=1e-6)


def test_sampling_distribution_follows_the_probabilities():
    from pytransformer.generate import _multinomial

    probs = lp.softmax(np.array([[2.0, 1.0, 0.0, -np.inf]], np.float32))
    draws = np.array([_multinomial(np.random.default_rng(i), probs)[0] for i in range(4000)])
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, probs[0], atol=0.03)
    assert freq[3] == 0  # a masked (-inf) token is never drawn


# ---------------------------------------------------------------------------------------------
# streaming, generate_tokens, errors, checkpoint defaults

def test_generate_tokens_and_streamer_give_the_same_tokens(lm):
    _, model, eos = lm
    ids, mask = _prompts(seed=8)
    full = model.generate(ids, mask, max_new_tokens=8, eos_token_id=eos)
    streamed = []
    model.generate(ids, mask, max_new_tokens=8, eos_token_id=eos, streamer=streamed.append)
    yielded = list(model.generate_tokens(ids, mask, max_new_tokens=8, eos_token_id=eos))
    np.testing.assert_array_equal(np.stack(streamed, 1), full[:, ids.shape[1]:])
    np.testing.assert_array_equal(np.stack(yielded, 1), full[:, ids.shape[1]:])
    beams = model.generate(ids, mask, max_new_tokens=6, num_beams=3, eos_token_id=eos)
    beam_columns = list(model.generate_tokens(ids, mask, max_new_tokens=6, num_beams=3,
                                              eos_token_id=eos))
    np.testing.assert_array_equal(np.stack(beam_columns, 1), beams[:, ids.shape[1]:])


def test_breaking_out_of_generate_tokens_stops_the_work(lm, monkeypatch):
    _, model, _ = lm
    calls = []
    step = type(model).step
    monkeypatch.setattr(model, "step", lambda *a, **k: calls.append(1) or step(model, *a, **k),
                        raising=False)
    ids, mask = _prompts(seed=9)
    for n, _tokens in enumerate(model.generate_tokens(ids, mask, max_new_tokens=20)):
        if n == 2:
            break
    assert len(calls) == 3  # the prompt, then one step per further token taken


@pytest.mark.parametrize("kwargs,name", [
    (dict(num_beams=2, num_return_sequences=3), "num_return_sequences"),
    (dict(num_return_sequences=2), "num_return_sequences"),
    (dict(do_sample=True, top_p=0.0), "top_p"),
    (dict(do_sample=True, top_p=1.5), "top_p"),
    (dict(temperature=-1.0), "temperature"),
    (dict(do_sample=True, temperature=0.0), "temperature"),
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=60), "max_new_tokens"),
    (dict(early_stopping="sometimes"), "early_stopping"),
    (dict(top_k=-1), "top_k"),
    # NaN / inf make no sense as any of these (a NaN length_penalty returned only the prompt)
    (dict(num_beams=3, length_penalty=float("nan")), "length_penalty: expected a finite number"),
    (dict(num_beams=3, length_penalty=float("-inf")), "length_penalty: expected a finite number"),
    (dict(do_sample=True, temperature=float("inf")), "temperature: expected a finite number"),
    (dict(temperature=float("nan")), "temperature: expected a finite number"),
    (dict(repetition_penalty=float("inf")), "repetition_penalty: expected a finite number"),
    (dict(do_sample=True, top_p=float("nan")), "top_p"),
    # ids that index the scores: in [0, vocab), as HF's processors require
    (dict(bad_words_ids=[[-1]]), r"bad_words_ids: expected a token id in \[0, 97\)"),
    (dict(bad_words_ids=[[5, VOCAB]]), r"bad_words_ids: expected a token id in \[0, 97\)"),
    (dict(bad_words_ids=[[]]), "bad_words_ids: expected a list of non-empty lists"),
    (dict(bad_words_ids=[5, 6]), "bad_words_ids: expected a list of non-empty lists"),
    (dict(forced_eos_token_id=VOCAB), r"forced_eos_token_id: expected a token id in \[0, 97\)"),
    (dict(forced_bos_token_id=VOCAB), r"forced_bos_token_id: expected a token id in \[0, 97\)"),
    (dict(eos_token_id=-1), "eos_token_id: expected a token id"),
    # beam search ranks (1 + #EOS) x num_beams candidates: HF's torch.topk fails past the vocab
    (dict(num_beams=3, eos_token_id=list(range(VOCAB))), "eos_token_id: beam search keeps"),
])
def test_bad_arguments_raise_value_error_naming_them(lm, kwargs, name):
    _, model, _ = lm
    kwargs = dict(kwargs)  # the parameter dicts are shared between the model fixtures
    if kwargs.get("max_new_tokens", 0) > 50 and _unlimited(model):
        pytest.skip("rotary positions have no limit")
    ids, mask = _prompts()
    kwargs.setdefault("max_new_tokens", 4)
    with pytest.raises(ValueError, match=name):
        model.generate(ids, mask, **kwargs)


@pytest.mark.parametrize("kwargs,name", [
    (dict(num_beams="x"), "num_beams: expected an int, got str"),
    (dict(num_beams=2.5), "num_beams: expected an int, got float"),
    (dict(top_k="50"), "top_k: expected an int, got str"),
    (dict(min_new_tokens=True), "min_new_tokens: expected an int, got bool"),
    (dict(length_penalty="1.0"), "length_penalty: expected a number, got str"),
    (dict(do_sample="false"), "do_sample: expected True or False, got str"),  # truthy as bool()
    (dict(do_sample=1), "do_sample: expected True or False, got int"),
])
def test_arguments_of_the_wrong_type_raise_type_error_naming_them(lm, kwargs, name):
    _, model, _ = lm
    with pytest.raises(TypeError, match=name):
        model.generate(*_prompts(), max_new_tokens=4, **kwargs)


def test_bad_checkpoint_generation_config_values_are_named(lm, monkeypatch):
    """A value from generation_config.json (or a dict set as model.generation_config) is
    checked like an argument and named generation_config.<key>."""
    _, model, _ = lm
    ids, mask = _prompts()
    monkeypatch.setattr(model, "generation_config", {"num_beams": "x"})
    with pytest.raises(TypeError, match="generation_config.num_beams: expected an int, got str"):
        model.generate(ids, mask, max_new_tokens=4)
    monkeypatch.setattr(model, "generation_config", {"length_penalty": float("nan"), "num_beams": 2})
    with pytest.raises(ValueError, match="generation_config.length_penalty: expected a finite"):
        model.generate(ids, mask, max_new_tokens=4)
    monkeypatch.setattr(model, "generation_config", {"do_sample": "true"})
    with pytest.raises(TypeError, match="generation_config.do_sample: expected True or False"):
        model.generate(ids, mask, max_new_tokens=4)
    monkeypatch.setattr(model, "generation_config", {"max_length": "20"})
    with pytest.raises(TypeError, match="generation_config.max_length: expected an int"):
        model.generate(ids, mask)
    monkeypatch.setattr(model, "generation_config", [("num_beams", 2)])
    with pytest.raises(TypeError, match="generation_config: expected a dict"):
        model.generate(ids, mask, max_new_tokens=4)


def test_eos_ids_past_the_vocabulary_are_ignored_as_in_transformers(lm):
    """HF's min-length processor skips EOS ids the scores do not have (no IndexError)."""
    hf, model, eos = lm
    ids, mask = _prompts()
    options = dict(max_new_tokens=6, min_new_tokens=3, eos_token_id=[VOCAB + 5, eos])
    theirs, _ = _hf(hf, ids, mask, **options)
    np.testing.assert_array_equal(model.generate(ids, mask, **options), theirs)


def test_uint64_token_ids_past_int64_are_reported_as_they_are(lm):
    _, model, _ = lm
    with pytest.raises(ValueError, match="input_ids: value 18446744073709551615 exceeds"):
        model.generate(np.array([[3, 2**64 - 1]], np.uint64), max_new_tokens=2)


def _unlimited(model):
    return model.stack.embeddings.max_positions is None


def test_prompt_longer_than_positions_raises(lm):
    _, model, _ = lm
    if not _unlimited(model):  # GPT-2's 64 learned positions; LLaMA's rotary ones never end
        with pytest.raises(ValueError, match="input_ids"):
            model.generate(np.ones((1, 65), np.int64), max_new_tokens=2)
    with pytest.raises(TypeError, match="unknown"):
        model.generate(np.ones((1, 3), np.int64), max_new_tokens=2, beams=2)


def test_checkpoint_generation_config_gives_the_defaults(lm, tmp_path):
    hf, model, eos = lm
    hf.generation_config.update(num_beams=3, eos_token_id=eos, max_length=14,
                                no_repeat_ngram_size=3)
    try:
        hf.save_pretrained(tmp_path)
        reloaded = pytransformer.load(tmp_path)
        ids, mask = _prompts(seed=10)
        assert reloaded.generation_config["num_beams"] == 3
        ours = reloaded.generate(ids, mask)  # max_length 14 total, beams 3, eos: all from file
        theirs, _ = _hf(hf, ids, mask)
        np.testing.assert_array_equal(ours, theirs)
    finally:
        hf.generation_config.update(num_beams=1, eos_token_id=None, max_length=20,
                                    no_repeat_ngram_size=0)


@pytest.mark.parametrize("options", [dict(), dict(num_beams=4, length_penalty=0.6, num_return_sequences=2),
                                     dict(num_beams=4, length_penalty=1.0, num_return_sequences=2)],
                         ids=["greedy", "beam4_lp0.6", "beam4_lp1.0"])
def test_long_generation_matches_transformers(lm, options):
    """32 new tokens on a left-padded batch, no EOS (a random model would stop early)."""
    hf, model, _ = lm
    ids, mask = _prompts(seed=5)
    expected, scores = _hf(hf, ids, mask, max_new_tokens=32, **options)
    ours = model.generate(ids, mask, max_new_tokens=32, return_scores=True, **options)
    np.testing.assert_array_equal(ours[0], expected)
    if options:
        np.testing.assert_allclose(ours[1], scores, atol=1e-4)


def test_each_step_after_the_prompt_feeds_one_token(lm, monkeypatch):
    """Generation cost is linear in the new tokens: the prompt is one step, then every step
    runs the model on one new position per row over the KV cache (so 256 tokens cost about
    twice 128, never four times)."""
    _, model, _ = lm
    fed = []
    original = type(model).step

    def counting_step(input_ids, cache, *args, **kwargs):
        fed.append((np.shape(input_ids)[1], cache.length))
        return original(model, input_ids, cache, *args, **kwargs)

    monkeypatch.setattr(model, "step", counting_step)
    ids, mask = _prompts()
    model.generate(ids, mask, max_new_tokens=20, eos_token_id=[])
    assert fed[0] == (ids.shape[1], 0)
    assert [n for n, _ in fed[1:]] == [1] * 19
    assert [length for _, length in fed[1:]] == list(range(ids.shape[1], ids.shape[1] + 19))
