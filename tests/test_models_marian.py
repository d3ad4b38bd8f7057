"""Marian checkpoints (random, built from configs) vs transformers: logits and encoder output,
the sinusoidal table's layout, and the converter's errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import pytransformer  # noqa: E402
from hf_seq2seq import TINY, check_against_hf, randomize, rewrite_checkpoint  # noqa: E402
from pytransformer.convert.hf_marian import marian_positions  # noqa: E402

# transformers 5's MarianMTModel does not save the sinusoidal table (it recomputes it), so a
# random one would not survive the round trip: leave it as transformers built it.
FIXED = ("embed_positions",)


def marian(seed=0, model_class=None, **config):
    model_class = model_class or transformers.MarianMTModel
    return randomize(model_class(transformers.MarianConfig(**{**TINY, **config})), FIXED, seed)


@pytest.mark.parametrize("scale_embedding", [True, False])
@pytest.mark.parametrize("activation", ["swish", "gelu", "relu"])
def test_marian_matches_transformers(tmp_path, scale_embedding, activation):
    check_against_hf(marian(scale_embedding=scale_embedding, activation_function=activation), tmp_path)


def test_marian_computed_positions(tmp_path):
    # No table in the checkpoint: the converter computes Marian's (sines first, then cosines).
    model = marian(scale_embedding=True, activation_function="swish")
    model.save_pretrained(tmp_path)
    from safetensors.numpy import load_file

    assert not any("embed_positions" in k for k in load_file(str(tmp_path / "model.safetensors")))
    check_against_hf(model, tmp_path)


def test_marian_bare_model_with_stored_positions(tmp_path):
    # MarianModel saves the table (and has no "model." prefix nor final_logits_bias); a table
    # that differs from the formula must be the one used.
    model = marian(model_class=transformers.MarianModel)
    with torch.no_grad():
        model.encoder.embed_positions.weight.mul_(0.5)
        model.decoder.embed_positions.weight.mul_(2.0)
    check_against_hf(model, tmp_path)


def test_marian_unshared_embeddings(tmp_path):
    # share_encoder_decoder_embeddings=false: encoder and decoder own different token tables.
    check_against_hf(marian(share_encoder_decoder_embeddings=False), tmp_path)
    assert "decoder_embed.tokens" in pytransformer.weights.load(tmp_path)[1]


def test_marian_untied_lm_head(tmp_path):
    check_against_hf(marian(tie_word_embeddings=False), tmp_path)
    assert not pytransformer.load(tmp_path).config.tie_word_embeddings


@pytest.mark.parametrize("dim", [32, 33])
def test_marian_positions_layout(dim):
    want = transformers.models.marian.modeling_marian.MarianSinusoidalPositionalEmbedding(
        40, dim).create_weight().numpy()
    np.testing.assert_array_equal(marian_positions(40, dim), want)


def test_unsupported_activation_is_named(tmp_path):
    marian(activation_function="quick_gelu").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="quick_gelu"):
        pytransformer.load(tmp_path)


def test_separate_target_vocabulary_is_rejected(tmp_path):
    marian(share_encoder_decoder_embeddings=False, decoder_vocab_size=80).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="decoder_vocab_size=80"):
        pytransformer.load(tmp_path)


def test_missing_tensor_is_named(tmp_path):
    marian().save_pretrained(tmp_path)
    rewrite_checkpoint(tmp_path, lambda t: t.pop("model.encoder.layers.0.self_attn_layer_norm.weight"))
    with pytest.raises(ValueError, match="model.encoder.layers.0.self_attn_layer_norm.weight"):
        pytransformer.load(tmp_path)


def test_wrong_shape_names_expected_and_found(tmp_path):
    marian().save_pretrained(tmp_path)

    def widen(tensors):
        tensors["model.shared.weight"] = np.zeros((100, 40), np.float32)

    rewrite_checkpoint(tmp_path, widen)
    with pytest.raises(ValueError, match=r"shared\.weight.*expected shape \(100, 32\), found \(100, 40\)"):
        pytransformer.load(tmp_path)
