"""Decoder-only language models from Hugging Face checkpoints vs transformers: GPT-2 (pre-LN,
learned positions, tanh GELU, tied head), OPT (positions over the real tokens), LLaMA (RMSNorm,
rotary, SwiGLU, grouped-query) and its relatives Mistral and Phi-3 (sliding windows), Qwen2
(biases on q, k and v only), Qwen3 (per-head q / k norms) and Gemma (GeGLU, 1 + weight
norms)."""

import json
import shutil

import numpy as np
import pytest

import pytransformer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 97


def _save(model, tmp_path):
    model.eval()
    model.save_pretrained(tmp_path)
    return pytransformer.load(tmp_path)


def _right_padded(rng, B, T):
    ids = rng.integers(0, VOCAB, (B, T))
    mask = np.ones((B, T), np.int64)
    mask[1, T // 2:] = 0
    return ids, mask


def _logits(hf, ids, mask, position_ids=None):
    kwargs = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
    if position_ids is not None:
        kwargs["position_ids"] = torch.tensor(position_ids)
    with torch.no_grad():
        return hf(**kwargs).logits.numpy()


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    torch.manual_seed(1)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=48, n_layer=2, n_head=4,
                                     n_positions=32, bos_token_id=0, eos_token_id=0)
    hf = transformers.GPT2LMHeadModel(config)
    return hf, _save(hf, tmp_path_factory.mktemp("gpt2"))


@pytest.mark.parametrize("B,T", [(1, 1), (3, 11), (2, 32)])
def test_gpt2_logits_match_transformers(gpt2, isa, rng, B, T):
    hf, model = gpt2
    ids, mask = _right_padded(rng, B, T) if B > 1 else (rng.integers(0, VOCAB, (B, T)), np.ones((B, T), np.int64))
    ours = model.forward(ids, attention_mask=mask)
    ref = _logits(hf, ids, mask)
    assert ours.shape == (B, T, VOCAB)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_gpt2_left_padding_with_position_ids(gpt2, rng):
    hf, model = gpt2
    ids = rng.integers(0, VOCAB, (2, 9))
    mask = np.ones((2, 9), np.int64)
    mask[0, :4] = 0  # left padding, as a batch of prompts for generation has
    positions = np.clip(np.cumsum(mask, axis=1) - 1, 0, None)
    ours = model.forward(ids, attention_mask=mask, position_ids=positions)
    ref = _logits(hf, ids, mask, positions)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


@pytest.fixture(scope="module", params=[(8, 2), (4, 4), (4, 1)], ids=["gqa", "mha", "mqa"])
def llama(request, tmp_path_factory):
    heads, kv_heads = request.param
    torch.manual_seed(2)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=88,
                                      num_hidden_layers=2, num_attention_heads=heads,
                                      num_key_value_heads=kv_heads, max_position_embeddings=64,
                                      rms_norm_eps=1e-6, bos_token_id=0, eos_token_id=0)
    hf = transformers.LlamaForCausalLM(config)
    return hf, _save(hf, tmp_path_factory.mktemp("llama"))


def test_llama_logits_match_transformers(llama, isa, rng):
    hf, model = llama
    ids, mask = _right_padded(rng, 3, 14)
    ours = model.forward(ids, attention_mask=mask)
    ref = _logits(hf, ids, mask)
    real = mask.astype(bool)
    # LLaMA's logits here are unit scale (|logit| < 1), so 1e-4 is the usual absolute bound.
    np.testing.assert_allclose(ours[real], ref[real], rtol=0, atol=1e-4)


def test_llama_untied_head_and_rope_theta(tmp_path, rng):
    torch.manual_seed(3)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=40,
                                      num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=64,
                                      tie_word_embeddings=False, rope_theta=500000.0,
                                      bos_token_id=0, eos_token_id=0)
    hf = transformers.LlamaForCausalLM(config)
    model = _save(hf, tmp_path)
    assert model.config.rope_base == 500000.0 and not model.config.tie_word_embeddings
    ids = rng.integers(0, VOCAB, (2, 40))
    mask = np.ones_like(ids)
    np.testing.assert_allclose(model.forward(ids), _logits(hf, ids, mask), rtol=0, atol=1e-4)


def _llama_family(kind, **extra):
    sizes = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
                 num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=64,
                 bos_token_id=0, eos_token_id=0)
    config_class, model_class = {
        "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
        "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
        "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
        "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM),
        "phi3": (transformers.Phi3Config, transformers.Phi3ForCausalLM),
        "stablelm": (transformers.StableLmConfig, transformers.StableLmForCausalLM),
        "gemma": (transformers.GemmaConfig, transformers.GemmaForCausalLM)}[kind]
    sizes.update(extra)
    return model_class(config_class(**sizes))


@pytest.mark.parametrize("kind,extra", [
    ("mistral", dict(sliding_window=None)),
    ("qwen2", dict(tie_word_embeddings=True)),
    ("qwen2", dict(tie_word_embeddings=False, rope_theta=1e6)),
    # Gemma 7B's shape in small: 8 heads of 16 in a width of 64 would divide; 4 of 24 do not.
    ("gemma", dict(num_attention_heads=4, num_key_value_heads=4, head_dim=24)),
    ("gemma", dict(head_dim=8, hidden_act="gelu")),  # the legacy name of the tanh GELU
    ("llama", dict(head_dim=12)),  # heads of 12 in a width of 64 (8 x 12 = 96)
    # Qwen3-0.6B's shape in small: per-head q / k norms, heads of 24 in a width of 64.
    ("qwen3", dict(num_attention_heads=4, num_key_value_heads=2, head_dim=24)),
    # Phi-3: fused q/k/v and gate/up projections; a window shorter than the prompts.
    ("phi3", dict(sliding_window=5, pad_token_id=0)),
    # Phi-4-mini's partial rotary in small: 12 of each 16-wide head rotated.
    ("phi3", dict(num_attention_heads=4, partial_rotary_factor=0.75, pad_token_id=0)),
    # StableLM: LayerNorms, a quarter of each head rotated (its default); StableLM-2's q, k, v
    # biases and a parallel layer with one norm.
    ("stablelm", dict(num_attention_heads=4, num_key_value_heads=4)),
    ("stablelm", dict(num_attention_heads=4, num_key_value_heads=2, use_qkv_bias=True,
                      use_parallel_residual=True, partial_rotary_factor=0.5)),
])
def test_llama_family_logits_match_transformers(kind, extra, tmp_path, rng):
    torch.manual_seed(4)
    hf = _llama_family(kind, **extra)
    # Random-init norms are the identity and biases zero: make them count.
    if kind in ("gemma", "qwen3", "stablelm"):
        with torch.no_grad():
            for name, p in hf.named_parameters():
                if "norm" in name:  # Gemma stores the gain minus 1
                    p.normal_(0.0 if kind == "gemma" or name.endswith("bias") else 1.0, 0.3)
    if kind == "qwen2" or extra.get("use_qkv_bias"):  # the q, k, v biases
        with torch.no_grad():
            for layer in hf.model.layers:
                for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                    proj.bias.normal_(0, 0.5)
        assert hf.model.layers[0].self_attn.o_proj.bias is None
    model = _save(hf, tmp_path)
    ids, mask = _right_padded(rng, 3, 14)
    ours = model.forward(ids, attention_mask=mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    prompt = rng.integers(1, VOCAB, (1, 5))
    with torch.no_grad():
        want = hf.generate(torch.tensor(prompt), max_new_tokens=8, do_sample=False,
                           eos_token_id=None, pad_token_id=0).numpy()
    np.testing.assert_array_equal(model.generate(prompt, max_new_tokens=8, eos_token_id=[]), want)


@pytest.mark.parametrize("kind,extra,layers", [
    ("mistral", dict(sliding_window=4), None),
    ("qwen2", dict(use_sliding_window=True, sliding_window=3, max_window_layers=1), [1]),
])
def test_sliding_window_matches_transformers(kind, extra, layers, tmp_path, rng):
    """Mistral v0.1 (every layer) and Qwen2 with use_sliding_window (layers from
    max_window_layers on) see only the last sliding_window positions: logits of prompts longer
    than the window, and generation whose cache grows past it (the decode steps), token for
    token as transformers, left-padded batches included (the window counts cache positions,
    padding too, as transformers does)."""
    torch.manual_seed(6)
    hf = _llama_family(kind, **extra)
    model = _save(hf, tmp_path)
    assert model.config.sliding_window == extra["sliding_window"]
    assert model.config.sliding_window_layers == layers
    ids, mask = _right_padded(rng, 3, 14)
    ours = model.forward(ids, attention_mask=mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    # The window changes the result: the same weights with full attention differ.
    full_path = tmp_path / "full"
    full_path.mkdir()
    for part in ("config.json", "model.safetensors"):
        shutil.copy(tmp_path / part, full_path / part)
    raw = json.loads((full_path / "config.json").read_text())
    raw.update(sliding_window=None, use_sliding_window=False, layer_types=None)
    (full_path / "config.json").write_text(json.dumps(raw))
    full = pytransformer.load(full_path)
    assert full.config.sliding_window is None
    assert np.abs(full.forward(ids, attention_mask=mask)[real] - ours[real]).max() > 1e-3
    _assert_left_padded_greedy_matches(hf, model, rng, pad=0)


def _assert_left_padded_greedy_matches(hf, model, rng, pad):
    """10 greedy tokens after two prompts of 6, the second left-padded by 2 (padding id pad),
    equal to transformers'."""
    prompt = rng.integers(3, VOCAB, (2, 6))
    prompt_mask = np.ones_like(prompt)
    prompt_mask[1, :2] = 0
    prompt[1, :2] = pad
    with torch.no_grad():
        want = hf.generate(torch.tensor(prompt), attention_mask=torch.tensor(prompt_mask),
                           max_new_tokens=10, do_sample=False, eos_token_id=None,
                           pad_token_id=pad).numpy()
    got = model.generate(prompt, attention_mask=prompt_mask, max_new_tokens=10, eos_token_id=[])
    np.testing.assert_array_equal(got, want)


def _randomize_norms_and_biases(hf):
    """Random-init LayerNorms are the identity and biases zero: draw every 1-D parameter (the
    models below have no other) around 1 for a norm's gain, around 0 for a bias."""
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)


def _parallel_family(kind, **extra):
    sizes = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=64, bos_token_id=0,
                 eos_token_id=0)
    sizes.update(extra)
    if kind == "gpt_neox":
        return transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(**sizes))
    return transformers.PhiForCausalLM(transformers.PhiConfig(**sizes))


@pytest.mark.parametrize("kind,extra", [
    # Pythia: attention and feed-forward side by side, a quarter of each head rotated.
    ("gpt_neox", dict(rotary_pct=0.25)),
    ("gpt_neox", dict(rotary_pct=0.5, use_parallel_residual=False, rotary_emb_base=500.0)),
    ("gpt_neox", dict(rotary_pct=1.0, hidden_act="gelu_new")),
    # Phi-2: one LayerNorm feeding both blocks, 8 of each 20-wide head rotated, a logits bias.
    ("phi", dict(hidden_size=80, partial_rotary_factor=0.4)),
    ("phi", dict(num_key_value_heads=2, partial_rotary_factor=0.5)),
])
def test_parallel_residual_partial_rotary_match_transformers(kind, extra, tmp_path, rng):
    """GPT-NeoX and Phi: x + attn(ln1(x)) + mlp(ln2(x)) (Phi: one norm) with rotary positions
    on the first features of each head only; right-padded logits and left-padded greedy
    generation against transformers."""
    torch.manual_seed(8)
    hf = _parallel_family(kind, **extra)
    _randomize_norms_and_biases(hf)
    model = _save(hf, tmp_path)
    rotary = model.config.rotary_dim or model.config.head_dim
    assert rotary == int(model.config.head_dim * extra.get("rotary_pct",
                                                           extra.get("partial_rotary_factor", 1)))
    assert model.config.parallel_residual == extra.get("use_parallel_residual", True)
    assert model.config.rope_base == extra.get("rotary_emb_base", 10000.0)
    ids, mask = _right_padded(rng, 3, 14)
    real = mask.astype(bool)
    np.testing.assert_allclose(model.forward(ids, attention_mask=mask)[real],
                               _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    _assert_left_padded_greedy_matches(hf, model, rng, pad=0)


@pytest.mark.parametrize("rotary_dim", [8, 16], ids=["partial", "whole-head"])
def test_gptj_matches_transformers(rotary_dim, tmp_path, rng):
    """GPT-J: Phi's parallel layer with its rotary pairs adjacent (rotate every two), which the
    converter turns into our rotate-half layout by reordering the q and k rows."""
    torch.manual_seed(9)
    config = transformers.GPTJConfig(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4,
                                     rotary_dim=rotary_dim, n_positions=64, bos_token_id=0,
                                     eos_token_id=0)
    hf = transformers.GPTJForCausalLM(config)
    _randomize_norms_and_biases(hf)
    model = _save(hf, tmp_path)
    assert model.config.parallel_residual and model.config.rotary_dim == (
        None if rotary_dim == 16 else rotary_dim)
    ids, mask = _right_padded(rng, 3, 14)
    real = mask.astype(bool)
    np.testing.assert_allclose(model.forward(ids, attention_mask=mask)[real],
                               _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    _assert_left_padded_greedy_matches(hf, model, rng, pad=0)


@pytest.mark.parametrize("multi_query", [True, False], ids=["multi-query", "multi-head"])
def test_gpt_bigcode_matches_transformers(multi_query, tmp_path, rng):
    """GPT-BigCode (StarCoder): GPT-2's layer with one key/value head shared by every query head
    (our grouped-query attention with kv_heads = 1), or without multi_query the per-head
    [q, k, v] rows regrouped."""
    torch.manual_seed(10)
    config = transformers.GPTBigCodeConfig(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4,
                                           n_positions=64, multi_query=multi_query,
                                           bos_token_id=0, eos_token_id=0)
    hf = transformers.GPTBigCodeForCausalLM(config)
    _randomize_norms_and_biases(hf)
    model = _save(hf, tmp_path)
    assert model.config.kv_heads == (1 if multi_query else 4)
    ids, mask = _right_padded(rng, 3, 14)
    real = mask.astype(bool)
    np.testing.assert_allclose(model.forward(ids, attention_mask=mask)[real],
                               _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    _assert_left_padded_greedy_matches(hf, model, rng, pad=0)


def test_phi_qk_layernorm_is_refused(tmp_path):
    config = transformers.PhiConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
                                    num_hidden_layers=1, num_attention_heads=2, qk_layernorm=True)
    transformers.PhiForCausalLM(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="qk_layernorm is not supported"):
        pytransformer.load(tmp_path)


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-LN", "post-LN"])
def test_opt_matches_transformers(pre_norm, tmp_path, rng):
    """OPT: learned positions two rows into the table, counted over the real tokens (so a
    left-padded row's positions start at its first token, in forward as in generate)."""
    torch.manual_seed(7)
    config = transformers.OPTConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=2,
                                    ffn_dim=80, num_attention_heads=4, max_position_embeddings=40,
                                    do_layer_norm_before=pre_norm, pad_token_id=1, bos_token_id=2,
                                    eos_token_id=2)
    hf = transformers.OPTForCausalLM(config)
    with torch.no_grad():  # random-init LayerNorms are the identity: make them count
        for name, p in hf.named_parameters():
            if "layer_norm" in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    model = _save(hf, tmp_path)
    ids = rng.integers(3, VOCAB, (3, 14))
    mask = np.ones_like(ids)
    mask[1, 9:] = 0  # right padding
    mask[2, :4] = 0  # left padding
    real = mask.astype(bool)
    np.testing.assert_allclose(model.forward(ids, attention_mask=mask)[real],
                               _logits(hf, ids, mask)[real], rtol=0, atol=1e-4)
    _assert_left_padded_greedy_matches(hf, model, rng, pad=1)


def test_opt_350m_projections_are_refused(tmp_path):
    config = transformers.OPTConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=1,
                                    ffn_dim=80, num_attention_heads=4, word_embed_proj_dim=32)
    transformers.OPTForCausalLM(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="word_embed_proj_dim=32 differs from hidden_size=48"):
        pytransformer.load(tmp_path)


def test_decoder_errors(gpt2):
    _, model = gpt2
    with pytest.raises(ValueError, match="input_ids: token id"):
        model.forward(np.array([[VOCAB]]))
    with pytest.raises(ValueError, match=r"position_ids: expected positions in \[0, 32\), got \[0, 32\]"):
        model.forward(np.array([[1, 2]]), position_ids=np.array([[0, 32]]))
    with pytest.raises(ValueError, match="position_ids: expected shape"):
        model.forward(np.array([[1, 2]]), position_ids=np.array([0, 1]))
    with pytest.raises(ValueError, match="input_ids: value 18446744073709551615 exceeds the int64"):
        model.forward(np.array([[2**64 - 1]], np.uint64))  # not wrapped to "token id -1"
    # as EncoderDecoder.start: a group of 0 rows would divide by zero in cache.reorder
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="^group_size: expected a"):
            model.start(2, 8, group_size=bad)


def test_rotary_positions_have_no_upper_limit_in_the_error(llama):
    _, model = llama
    with pytest.raises(ValueError, match=r"position_ids: expected non-negative positions, got \[-1, 1\]"):
        model.forward(np.array([[1, 2]]), position_ids=np.array([[-1, 1]]))
