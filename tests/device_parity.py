"""Shared by the CUDA tests (tests/test_cuda.py on a GPU, tests/test_backends_cuda_wiring.py
with a NumPy stand-in for the CUDA module anywhere): tiny random Hugging Face checkpoints of
every supported architecture, and checks that a model loaded on a device gives what the CPU
path gives (itself tested against transformers) for encode, forward and every generation mode."""

import numpy as np
import torch
import transformers

import pytransformer


def _randomized(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            base = 1.0 if name.endswith("weight") and p.dim() == 1 else 0.0  # norm gains
            p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


def checkpoints(root) -> dict:
    """name -> checkpoint folder of a tiny random model of each architecture."""
    seq2seq = dict(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2,
                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                   decoder_ffn_dim=64, max_position_embeddings=40, pad_token_id=1,
                   bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    models = {
        "bert": transformers.BertModel(transformers.BertConfig(
            vocab_size=99, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=96, max_position_embeddings=40)),
        "gpt2": transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=97, n_embd=48, n_layer=2, n_head=4, n_positions=64, bos_token_id=0,
            eos_token_id=0)),
        "llama": transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=97, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            bos_token_id=0, eos_token_id=0)),
        # Qwen3: each query and key head normalised before the rotary positions; 24-wide heads.
        "qwen3": transformers.Qwen3ForCausalLM(transformers.Qwen3Config(
            vocab_size=97, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=24,
            max_position_embeddings=64, bos_token_id=0, eos_token_id=0)),
        # Sliding-window attention (Mistral v0.1) with a window shorter than every prompt.
        "mistral": transformers.MistralForCausalLM(transformers.MistralConfig(
            vocab_size=97, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            sliding_window=5, bos_token_id=0, eos_token_id=0)),
        # GPT-NeoX (Pythia): attention and feed-forward side by side from the layer's input
        # (parallel residual), rotary positions on a quarter of each 16-wide head.
        "gpt_neox": transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
            vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, rotary_pct=0.25, max_position_embeddings=64,
            bos_token_id=0, eos_token_id=0)),
        # Phi-2: one LayerNorm feeding both blocks, 8 of 20 features rotated, a logits bias.
        "phi": transformers.PhiForCausalLM(transformers.PhiConfig(
            vocab_size=97, hidden_size=80, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, partial_rotary_factor=0.4, max_position_embeddings=64,
            bos_token_id=0, eos_token_id=0)),
        # GPT-J: Phi's layer with adjacent rotary pairs, turned into ours by reordering q, k.
        "gptj": transformers.GPTJForCausalLM(transformers.GPTJConfig(
            vocab_size=97, n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=64,
            bos_token_id=0, eos_token_id=0)),
        # StarCoder: GPT-2's layer with one key/value head for all the query heads.
        "gpt_bigcode": transformers.GPTBigCodeForCausalLM(transformers.GPTBigCodeConfig(
            vocab_size=97, n_embd=48, n_layer=2, n_head=4, n_positions=64, bos_token_id=0,
            eos_token_id=0)),
        # T5 v1.1 / Flan-T5: relative position bias, unscaled scores, gated GELU, heads that
        # do not divide d_model.
        "t5": transformers.T5ForConditionalGeneration(transformers.T5Config(
            vocab_size=100, d_model=32, d_kv=16, num_heads=3, d_ff=48, num_layers=2,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False,
            relative_attention_num_buckets=8, relative_attention_max_distance=20,
            pad_token_id=1, eos_token_id=2, decoder_start_token_id=0)),
        "marian": transformers.MarianMTModel(transformers.MarianConfig(**seq2seq)),
        "bart": transformers.BartForConditionalGeneration(transformers.BartConfig(**seq2seq)),
    }
    paths = {}
    for seed, (name, model) in enumerate(models.items()):
        path = root / name
        _randomized(model, seed).save_pretrained(path)
        paths[name] = path
    return paths


def _padded(rng, B, T, vocab, pad=1, left=False):
    ids = rng.integers(3, vocab, (B, T))
    mask = np.ones((B, T), np.int64)
    if left:
        mask[1, :T // 2] = 0
    else:
        mask[1, T // 2:] = 0
    ids[mask == 0] = pad
    return ids, mask


def _load(path, device, compute_type):
    cpu, dev = pytransformer.load(path), pytransformer.load(path, compute_type, device=device)
    assert (cpu.backend.device, dev.backend.device) == ("cpu", device.partition(":")[0])
    return cpu, dev


def _close(actual, expected, tolerance):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * scale)


def check_encoder(path, device, tolerance, compute_type=None):
    cpu, dev = _load(path, device, compute_type)
    ids, mask = _padded(np.random.default_rng(0), 3, 17, cpu.config.vocab_size)
    expected = cpu.encode(ids, mask)
    _close(dev.encode(ids, mask), expected, tolerance)


def check_decoder(path, device, tolerance, compute_type=None, generation=True):
    cpu, dev = _load(path, device, compute_type)
    rng = np.random.default_rng(1)
    ids, mask = _padded(rng, 3, 19, cpu.config.vocab_size)
    real = mask.astype(bool)
    _close(dev.forward(ids, mask)[real], cpu.forward(ids, mask)[real], tolerance)
    if not generation:
        return
    prompts, prompt_mask = _padded(rng, 2, 6, cpu.config.vocab_size, pad=0, left=True)
    for kwargs in (dict(), dict(num_beams=3, num_return_sequences=2),
                   dict(do_sample=True, top_k=5, seed=7)):
        expected = cpu.generate(prompts, prompt_mask, max_new_tokens=12, **kwargs)
        np.testing.assert_array_equal(dev.generate(prompts, prompt_mask, max_new_tokens=12, **kwargs),
                                      expected, err_msg=str(kwargs))


def check_encoder_decoder(path, device, tolerance, compute_type=None, generation=True):
    cpu, dev = _load(path, device, compute_type)
    rng = np.random.default_rng(2)
    ids, mask = _padded(rng, 3, 9, cpu.config.vocab_size)
    target = rng.integers(3, cpu.config.vocab_size, (3, 5))
    _close(dev.encode(ids, mask)[mask.astype(bool)], cpu.encode(ids, mask)[mask.astype(bool)], tolerance)
    _close(dev.forward(ids, target, mask), cpu.forward(ids, target, mask), tolerance)
    if not generation:
        return
    for kwargs in (dict(), dict(num_beams=4, num_return_sequences=2),
                   dict(do_sample=True, top_p=0.9, seed=3)):
        expected = cpu.generate(ids, mask, max_new_tokens=10, **kwargs)
        np.testing.assert_array_equal(dev.generate(ids, mask, max_new_tokens=10, **kwargs),
                                      expected, err_msg=str(kwargs))


CHECKS = {"bert": check_encoder, "gpt2": check_decoder, "llama": check_decoder,
          "qwen3": check_decoder, "mistral": check_decoder, "gpt_neox": check_decoder,
          "phi": check_decoder, "gptj": check_decoder, "gpt_bigcode": check_decoder,
          "t5": check_encoder_decoder,
          "marian": check_encoder_decoder, "bart": check_encoder_decoder}
