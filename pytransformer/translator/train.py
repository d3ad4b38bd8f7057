"""Train the number translator with PyTorch and export it in our format.

    python -m pytransformer.translator.train --out pytransformer/translator/model

The model is the 2017 paper's Transformer at a small size: ``torch.nn.Transformer`` (post-LN,
relu, batch-first) with one token embedding shared by source, target and the output projection
(the paper's tying), scaled by sqrt(d_model), plus the paper's sinusoidal positions. It learns
:mod:`pytransformer.translator.task` to ~100% held-out exact match in a few CPU minutes on one
thread. The folder written holds what ``pytransformer translate`` needs:

* ``config.json`` + ``model.safetensors``  (pytransformer.export_torch)
* ``tokenizer.json``                       (the ``tokenizers`` library: WordLevel, one vocab)
* ``generation_config.json``               (Hugging Face's keys: decoder_start_token_id, ...)

torch is needed here only; the exported folder runs without it. :class:`NumberTranslator` and
:func:`greedy_decode` are also what the tests use to run PyTorch's own greedy decode.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time
import warnings
from typing import List, Sequence

import torch
from torch import nn

from . import task

D_MODEL, HEADS, LAYERS, FFN = 64, 4, 2, 256
MAX_POSITIONS = 64  # sinusoidal, so exporting a longer table would cost nothing but is not needed
MAX_LENGTH = 16  # generation_config max_length: <s> + up to 6 digits + </s>, with room to spare


class NumberTranslator(nn.Module):
    """nn.Transformer with the parts the paper adds around it: embedding (shared by source and
    target and tied to the output projection), scale sqrt(d_model), sinusoidal positions."""

    def __init__(self, vocab: int = len(task.VOCAB), d_model: int = D_MODEL, heads: int = HEADS,
                 layers: int = LAYERS, ffn: int = FFN, eps: float = 1e-5):
        super().__init__()
        from ..reference import sinusoidal_positions  # the same table pytransformer computes

        self.scale = math.sqrt(d_model)
        self.embed = nn.Embedding(vocab, d_model, padding_idx=task.PAD_ID)
        nn.init.normal_(self.embed.weight, 0.0, d_model ** -0.5)  # unit scale once scaled
        with torch.no_grad():
            self.embed.weight[task.PAD_ID].zero_()
        self.transformer = nn.Transformer(
            d_model, heads, layers, layers, ffn, dropout=0.0, batch_first=True,
            norm_first=False, layer_norm_eps=eps)
        table = torch.from_numpy(sinusoidal_positions(MAX_POSITIONS, d_model))
        self.register_buffer("positions", table, persistent=False)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids) * self.scale + self.positions[: ids.shape[1]]

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        return self.transformer.encoder(self._embed(src), src_key_padding_mask=src == task.PAD_ID)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, V] of the target prefix tgt [B, T] (<s> first) given the memory."""
        T = tgt.shape[1]
        # All masks boolean (True = masked): torch warns when bool and float masks are mixed.
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=tgt.device), diagonal=1)
        h = self.transformer.decoder(
            self._embed(tgt), memory, tgt_mask=causal, tgt_key_padding_mask=tgt == task.PAD_ID,
            memory_key_padding_mask=src == task.PAD_ID)
        return h @ self.embed.weight.T

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt, self.encode(src), src)


def pad(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """Right-pad id lists with <pad> into one int64 tensor."""
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [task.PAD_ID] * (width - len(r)) for r in rows])


def batch(pairs):
    """(source ids, decoder input <s> + digits, labels digits + </s>), padded."""
    src = pad([task.encode_source(s) for s, _ in pairs])
    digits = [task.encode_target(t) for _, t in pairs]
    return src, pad([[task.BOS_ID] + d for d in digits]), pad([d + [task.EOS_ID] for d in digits])


@torch.no_grad()
def greedy_decode(model: NumberTranslator, src: torch.Tensor,
                  max_length: int = MAX_LENGTH) -> List[List[int]]:
    """PyTorch's own greedy decode: each step reruns the decoder over the whole prefix (no
    cache) and takes the argmax of the last position. Returns each row's generated ids after
    <s>, up to and including </s> (or max_length - 1 ids)."""
    model.eval()
    memory = model.encode(src)
    ids = torch.full((src.shape[0], 1), task.BOS_ID, dtype=torch.long)
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    while ids.shape[1] < max_length and not done.all():
        # Finished rows keep decoding <pad> (the same convention as Hugging Face's generate);
        # their padding is masked as a key, so it cannot change the other rows.
        step = model.decode(ids, memory, src)[:, -1].argmax(-1)
        step = step.masked_fill(done, task.PAD_ID)
        ids = torch.cat([ids, step[:, None]], dim=1)
        done |= step == task.EOS_ID
    return [[i for i in row if i != task.PAD_ID] for row in ids[:, 1:].tolist()]


def accuracy(model: NumberTranslator, pairs, batch_size: int = 250) -> float:
    """Exact-match accuracy of PyTorch greedy decoding over (source, target) pairs."""
    right = 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        src = pad([task.encode_source(s) for s, _ in chunk])
        for out, (_, target) in zip(greedy_decode(model, src), chunk):
            right += task.decode_target(out) == target
    return right / len(pairs)


def train(steps: int, batch_size: int, lr: float, warmup: int, seed: int, log_every: int = 250):
    """Train a fresh NumberTranslator; returns (model in eval mode, mean loss of the last
    log_every steps, wall seconds, CPU seconds). Deterministic for a seed on one thread."""
    torch.manual_seed(seed)
    model = NumberTranslator()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)

    def schedule(step: int) -> float:  # linear warm-up, then cosine decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    loss_fn = nn.CrossEntropyLoss(ignore_index=task.PAD_ID)
    # Fresh examples each step (the training numbers are ~900 000), so no dropout is needed.
    data = task.pairs("train", steps * batch_size, seed)
    validation = task.pairs("held-out", 200, seed + 1)  # not the README/test sample
    started, cpu, losses = time.perf_counter(), time.process_time(), []
    for step in range(steps):
        model.train()
        src, tgt_in, labels = batch(data[step * batch_size:(step + 1) * batch_size])
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            print(f"step {step + 1:5d}  loss {recent:.2e}  lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"held-out acc {accuracy(model, validation):.3f}  "
                  f"{time.perf_counter() - started:.0f}s", flush=True)
    final_loss = sum(losses[-log_every:]) / len(losses[-log_every:])
    return model.eval(), final_loss, time.perf_counter() - started, time.process_time() - cpu


def tokenizer():
    """The tokenizers.Tokenizer of the task: one WordLevel vocab for words and digits.
    Encoding a source appends </s> (the model was trained so); decoding fuses the digits."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel(vocab=dict(task.TOKEN_ID), unk_token=task.UNK))
    # "Forty-Two" reads as "forty two": lower case, hyphens and commas are word breaks.
    tok.normalizer = normalizers.Sequence([
        normalizers.Lowercase(), normalizers.Replace("-", " "), normalizers.Replace(",", " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True)])
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {task.EOS}", special_tokens=[(task.EOS, task.EOS_ID)])
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(task.SPECIALS)
    return tok


def export(model: NumberTranslator, out: pathlib.Path) -> None:
    from .. import export_torch

    out.mkdir(parents=True, exist_ok=True)
    export_torch(model.transformer, out, embedding=model.embed, positions="sinusoidal",
                 max_positions=MAX_POSITIONS, embedding_scale=model.scale,
                 pad_token_id=task.PAD_ID)  # output projection: tied to the embedding
    tokenizer().save(str(out / "tokenizer.json"))
    generation = {"decoder_start_token_id": task.BOS_ID, "bos_token_id": task.BOS_ID,
                  "eos_token_id": task.EOS_ID, "pad_token_id": task.PAD_ID,
                  "max_length": MAX_LENGTH, "num_beams": 1}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).parent / "model")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # PyTorch's notice that its eval fast path (used by greedy_decode) is a prototype.
    warnings.filterwarnings("ignore", "The PyTorch API of nested tensors", UserWarning)
    model, loss, seconds, cpu_seconds = train(args.steps, args.batch_size, args.lr, args.warmup,
                                              args.seed)
    params = sum(p.numel() for p in model.parameters())
    acc = accuracy(model, task.held_out_pairs(1000))
    print(f"trained {params} parameters in {seconds:.0f}s ({cpu_seconds:.0f}s CPU): final loss "
          f"{loss:.2e}, held-out exact match {acc:.4f} (1000 pairs, seed {task.HELD_OUT_SEED})")
    export(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
