"""T5 (t5-*, T5 v1.1, Flan-T5) and mT5 from Hugging Face checkpoints vs transformers: the
relative position bias (bucketed, bidirectional in the encoder, looking back in the decoder),
unscaled attention scores, RMSNorm pre-LN, ReLU or gated-GELU feed-forwards, heads that need
not divide d_model, the tied head's output scaling; encoder-only T5EncoderModel."""

import json

import numpy as np
import pytest

import pytransformer
import pytransformer.models
from pytransformer import safetensors as st
from pytransformer.models.relative_positions import relative_position_bucket

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 64


def _config(**changes):
    fields = dict(vocab_size=VOCAB, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
                  relative_attention_num_buckets=8, relative_attention_max_distance=20,
                  pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    fields.update(changes)
    return transformers.T5Config(**fields)


def _randomized(model, seed=0):
    """Norm gains away from 1 (their init), so that a norm read wrongly would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _batch(rng, B=3, T=30):
    ids = rng.integers(2, VOCAB, (B, T))
    mask = np.ones((B, T), np.int64)
    mask[1, 17:] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    return ids, mask


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("buckets,max_distance", [(32, 128), (8, 20), (64, 256), (16, 16)])
def test_relative_position_buckets_match_transformers(bidirectional, buckets, max_distance):
    relative = torch.arange(-2000, 2000)
    want = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
        relative, bidirectional=bidirectional, num_buckets=buckets, max_distance=max_distance)
    got = relative_position_bucket(relative.numpy(), bidirectional, buckets, max_distance)
    np.testing.assert_array_equal(got, want.numpy())


T5_KINDS = {
    # t5-small's choices: ReLU, tied head (decoder output scaled by d_model^-0.5).
    "t5": dict(feed_forward_proj="relu"),
    # Flan-T5 / T5 v1.1: gated GELU, untied, 3 heads of 16 in a width of 32; more decoder layers.
    "flan": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, num_heads=3, d_kv=16,
                 num_decoder_layers=3),
    "gated-silu": dict(feed_forward_proj="gated-silu"),
}


@pytest.mark.parametrize("kind", list(T5_KINDS))
def test_t5_logits_match_transformers(kind, tmp_path, rng, isa):
    torch.manual_seed(1)
    hf = _randomized(transformers.T5ForConditionalGeneration(_config(**T5_KINDS[kind])))
    hf.save_pretrained(tmp_path)
    model = pytransformer.load(tmp_path)
    assert model.config.relative_position_bias and model.config.attention_scale == 1.0
    ids, mask = _batch(rng)
    target = rng.integers(2, VOCAB, (3, 25))
    with torch.no_grad():
        want = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                  decoder_input_ids=torch.tensor(target)).logits.numpy()
        encoded = hf.encoder(input_ids=torch.tensor(ids),
                             attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    scale = max(1.0, np.abs(want).max())
    np.testing.assert_allclose(model.forward(ids, target, mask), want, rtol=0, atol=1e-5 * scale)
    real = mask.astype(bool)
    np.testing.assert_allclose(model.encode(ids, mask)[real], encoded[real], rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["t5", "flan"])
def test_t5_generation_matches_transformers(kind, tmp_path, rng):
    """Greedy and beam search, token for token: the decoder's bias grows with the cache."""
    torch.manual_seed(2)
    extra = {k: v for k, v in T5_KINDS[kind].items() if k != "num_decoder_layers"}
    hf = _randomized(transformers.T5ForConditionalGeneration(_config(**extra)), seed=1)
    hf.save_pretrained(tmp_path)
    model = pytransformer.load(tmp_path)
    ids, mask = _batch(rng)
    for kwargs in (dict(), dict(num_beams=3, num_return_sequences=2)):
        with torch.no_grad():
            want = hf.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                               max_new_tokens=12, do_sample=False, **kwargs).numpy()
        np.testing.assert_array_equal(model.generate(ids, mask, max_new_tokens=12, **kwargs), want,
                                      err_msg=str(kwargs))


def test_mt5_and_the_encoder_only_model(tmp_path, rng):
    torch.manual_seed(3)
    mt5 = _randomized(transformers.MT5ForConditionalGeneration(transformers.MT5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=1,
        relative_attention_num_buckets=8, decoder_start_token_id=0)))
    mt5.save_pretrained(tmp_path / "mt5")
    model = pytransformer.load(tmp_path / "mt5")
    assert model.config.activation == "geglu_tanh"
    ids, mask = _batch(rng, T=12)
    target = rng.integers(2, VOCAB, (3, 7))
    with torch.no_grad():
        want = mt5(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                   decoder_input_ids=torch.tensor(target)).logits.numpy()
    np.testing.assert_allclose(model.forward(ids, target, mask), want, rtol=0, atol=1e-4)

    encoder = _randomized(transformers.T5EncoderModel(_config(feed_forward_proj="gated-gelu")))
    encoder.save_pretrained(tmp_path / "encoder")
    model = pytransformer.load(tmp_path / "encoder")
    assert isinstance(model, pytransformer.models.Encoder)
    with torch.no_grad():
        want = encoder(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(model.encode(ids, mask)[real], want[real], rtol=0, atol=1e-5)


def test_flan_t5_checkpoint_with_its_own_head(tmp_path, rng):
    """Flan-T5 as published (written by transformers 4): tie_word_embeddings false and an
    lm_head.weight of its own, the decoder output unscaled. transformers 5 ties the head to
    the token table on load, so the oracle is its decoder output times that lm_head."""
    torch.manual_seed(4)
    hf = _randomized(transformers.T5ForConditionalGeneration(
        _config(feed_forward_proj="gated-gelu", tie_word_embeddings=False)))
    hf.save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw.update(tie_word_embeddings=False)
    raw.pop("scale_decoder_outputs", None)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    tensors = dict(st.load(tmp_path / "model.safetensors"))
    head = rng.standard_normal((VOCAB, 32)).astype(np.float32)
    tensors["lm_head.weight"] = head
    st.save(tensors, tmp_path / "model.safetensors")
    model = pytransformer.load(tmp_path)
    assert not model.config.tie_word_embeddings
    ids, mask = _batch(rng)
    target = rng.integers(2, VOCAB, (3, 9))
    with torch.no_grad():
        out = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                 decoder_input_ids=torch.tensor(target), output_hidden_states=True)
    want = out.decoder_hidden_states[-1].numpy() @ head.T
    np.testing.assert_allclose(model.forward(ids, target, mask), want, rtol=0, atol=1e-4)


def test_t5_errors(tmp_path):
    hf = transformers.T5ForConditionalGeneration(_config())
    hf.save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw.update(feed_forward_proj="gated-relu")
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="feed_forward_proj 'gated-relu' is not supported"):
        pytransformer.load(tmp_path)
