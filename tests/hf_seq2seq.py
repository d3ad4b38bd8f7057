"""Shared by the encoder-decoder tests: tiny random Hugging Face models, saved as checkpoints,
loaded with pytransformer.load and compared with transformers' own outputs."""

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

import pytransformer

TINY = dict(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
            decoder_ffn_dim=64, max_position_embeddings=40, pad_token_id=1, bos_token_id=0,
            eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2)
PAD = TINY["pad_token_id"]


def randomize(model, skip=(), seed=0):
    """Give every parameter and float buffer random values of unit-scale effect. transformers
    initializes at std 0.02 with LayerNorms at 1/0 and final_logits_bias at 0: small, regular
    numbers under which a swapped norm, a lost bias or a missing embedding scale go unnoticed."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in [*model.named_parameters(), *model.named_buffers()]:
            if any(s in name for s in skip) or not p.is_floating_point():
                continue
            base = 1.0 if name.endswith("weight") and p.dim() == 1 else 0.0  # LayerNorm gains
            p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


def inputs(vocab_size, batch=3, source_len=7, target_len=4, seed=1):
    """Source ids padded at the end of rows 1 and 2 (pad id where attention_mask is 0) and
    decoder ids of another length than the source."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab_size, (batch, source_len), generator=gen)
    mask = torch.ones(batch, source_len, dtype=torch.long)
    mask[1, source_len - 2:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = PAD
    decoder_ids = torch.randint(3, vocab_size, (batch, target_len), generator=gen)
    return ids, mask, decoder_ids


def check_against_hf(model, path):
    """Save ``model``, load it with pytransformer and compare logits and encoder output.

    fp32 rounding grows with the values' size, so the 1e-4 tolerance (on unit-scale data) is
    scaled by the reference's largest magnitude when that exceeds 1. Returns the max diffs."""
    model.save_pretrained(path)
    ours = pytransformer.load(path)
    ids, mask, decoder_ids = inputs(model.config.vocab_size)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
        encoded = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        # A bare *Model has no head: its logits are the decoder output times the tied embedding.
        logits = out.logits if hasattr(out, "logits") else (
            out.last_hidden_state @ model.get_input_embeddings().weight.T)
    diffs = {}
    # Our encoder computes the real tokens only (padded positions come back as zeros), so the
    # encoder output is compared where the source has tokens.
    real = mask.numpy().astype(bool)
    for name, got, want in (
            ("logits", ours.forward(ids.numpy(), decoder_ids.numpy(), mask.numpy()), logits.numpy()),
            ("encoder", ours.encode(ids.numpy(), mask.numpy())[real], encoded.numpy()[real])):
        assert got.shape == want.shape, name
        diffs[name] = float(np.abs(got - want).max())
        scale = max(1.0, float(np.abs(want).max()))
        assert diffs[name] <= 1e-4 * scale, f"{name}: max diff {diffs[name]} (scale {scale})"
    print(f"max abs diff: {diffs}")
    return diffs


def rewrite_checkpoint(path, edit):
    """Apply ``edit`` to the saved tensors (a dict of numpy arrays) and write them back."""
    file = path / "model.safetensors"
    tensors = load_file(str(file))
    edit(tensors)
    save_file(tensors, str(file), metadata={"format": "pt"})

