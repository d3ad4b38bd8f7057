"""BART and mBART checkpoints (random, built from configs) vs transformers: logits and encoder
output, and the converter's errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import pytransformer  # noqa: E402
from hf_seq2seq import TINY, check_against_hf, randomize, rewrite_checkpoint  # noqa: E402


def bart(seed=0, model_class=None, **config):
    model_class = model_class or transformers.BartForConditionalGeneration
    return randomize(model_class(transformers.BartConfig(**{**TINY, **config})), seed=seed)


@pytest.mark.parametrize("scale_embedding", [False, True])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_bart_matches_transformers(tmp_path, scale_embedding, activation):
    check_against_hf(bart(scale_embedding=scale_embedding, activation_function=activation), tmp_path)


@pytest.mark.parametrize("normalize_before", [False, True])
def test_bart_normalize_before_is_ignored_as_in_transformers(tmp_path, normalize_before):
    # transformers 4+ keeps this transformers-3 field in config.json but always runs BART post-LN.
    model = bart(normalize_before=normalize_before, add_final_layer_norm=normalize_before)
    check_against_hf(model, tmp_path)
    assert pytransformer.load(tmp_path).config.norm_position == "post"


@pytest.mark.parametrize("scale_embedding", [False, True])
def test_mbart_pre_norm_and_final_norms(tmp_path, scale_embedding):
    config = transformers.MBartConfig(**{**TINY, "scale_embedding": scale_embedding})
    check_against_hf(randomize(transformers.MBartForConditionalGeneration(config)), tmp_path)
    loaded = pytransformer.load(tmp_path).config
    assert (loaded.norm_position, loaded.final_norm) == ("pre", True)


def test_bart_untied_lm_head_and_stack_embeddings(tmp_path):
    # transformers 5 with tie_word_embeddings=false ties nothing: the encoder, decoder and head
    # each have their own table, and model.shared is unused.
    check_against_hf(bart(tie_word_embeddings=False), tmp_path)
    assert not pytransformer.load(tmp_path).config.tie_word_embeddings


def test_bart_different_layer_counts(tmp_path):
    check_against_hf(bart(encoder_layers=1, decoder_layers=2), tmp_path)


def test_bart_bare_model_checkpoint(tmp_path):
    # BartModel: no "model." prefix, no final_logits_bias, no head (logits via the tied embedding).
    check_against_hf(bart(model_class=transformers.BartModel), tmp_path)


def test_bart_position_table_offset(tmp_path):
    bart().save_pretrained(tmp_path)
    from safetensors.numpy import load_file

    table = load_file(str(tmp_path / "model.safetensors"))["model.encoder.embed_positions.weight"]
    model = pytransformer.load(tmp_path)
    np.testing.assert_array_equal(model.encoder.embeddings.positions, table[2:])
    assert model.encoder.embeddings.max_positions == TINY["max_position_embeddings"]


def test_unsupported_activation_is_named(tmp_path):
    bart(activation_function="quick_gelu").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="quick_gelu"):
        pytransformer.load(tmp_path)


def test_different_encoder_decoder_widths_are_rejected(tmp_path):
    bart(decoder_ffn_dim=48).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="decoder_ffn_dim=48"):
        pytransformer.load(tmp_path)


def test_missing_tensor_is_named(tmp_path):
    bart().save_pretrained(tmp_path)
    rewrite_checkpoint(tmp_path, lambda t: t.pop("model.decoder.layers.1.encoder_attn.k_proj.bias"))
    with pytest.raises(ValueError, match="model.decoder.layers.1.encoder_attn.k_proj.bias"):
        pytransformer.load(tmp_path)


def test_wrong_shape_names_expected_and_found(tmp_path):
    bart().save_pretrained(tmp_path)

    def shrink(tensors):
        tensors["model.encoder.layers.0.fc1.weight"] = tensors["model.encoder.layers.0.fc1.weight"][:48]

    rewrite_checkpoint(tmp_path, shrink)
    with pytest.raises(ValueError, match=r"fc1\.weight.*expected shape \(64, 32\), found \(48, 32\)"):
        pytransformer.load(tmp_path)
