"""Text in, text out: a checkpoint folder with a ``tokenizer.json`` beside the model, tokenized
with Hugging Face ``tokenizers`` (imported lazily), generated with :mod:`pytransformer.generate`.

  Generator(path).generate_text(prompts, **generate_kwargs) -> list[str]   (decoder-only)
  Translator(path).translate(sentences, **generate_kwargs) -> list[str]    (encoder-decoder)

Both return the new text only (the prompt / decoder start token and everything from the first
EOS on are cut, special tokens skipped), batch x num_return_sequences strings in order.
"""

from __future__ import annotations

import os
from typing import List, Sequence, Union

import numpy as np


def _tokenizer(path):
    try:
        import tokenizers
    except ImportError:
        raise ImportError("pytransformer.Generator / Translator need the Hugging Face "
                          "`tokenizers` package: pip install tokenizers") from None
    file = os.path.join(os.fspath(path), "tokenizer.json")
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{path}: no tokenizer.json beside the model")
    return tokenizers.Tokenizer.from_file(file)


def _as_list(texts: Union[str, Sequence[str]], name: str) -> List[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name}: expected a string or a non-empty list of strings")
    return texts


class _TextModel:
    kind = ""

    def __init__(self, path, compute_type: str = "float32"):
        from .api import load

        self.model = load(path, compute_type=compute_type)
        if self.model.config.kind != self.kind:
            raise ValueError(f"{path}: {type(self).__name__} needs a {self.kind} model, got a "
                             f"{self.model.config.kind}")
        self.tokenizer = _tokenizer(path)
        config = self.model.generation_config
        pad = config.get("pad_token_id")
        eos = config.get("eos_token_id")
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.pad_id = pad if pad is not None else (eos[0] if eos else 0)

    def _batch(self, texts: List[str], left: bool):
        """Token ids [B, S] padded with pad_id (left for prompts, right for sources) and the
        attention mask."""
        encoded = [self.tokenizer.encode(t).ids for t in texts]
        if any(len(e) == 0 for e in encoded):
            raise ValueError("texts: a text encodes to no tokens")
        S = max(len(e) for e in encoded)
        ids = np.full((len(texts), S), self.pad_id, np.int64)
        mask = np.zeros((len(texts), S), np.int64)
        for row, e in enumerate(encoded):
            span = slice(S - len(e), S) if left else slice(0, len(e))
            ids[row, span] = e
            mask[row, span] = 1
        return ids, mask

    def _decode(self, sequences: np.ndarray, start: int, eos) -> List[str]:
        out = []
        for row in sequences[:, start:]:
            tokens = row.tolist()
            for i, t in enumerate(tokens):
                if t in eos:
                    tokens = tokens[:i]
                    break
            out.append(self.tokenizer.decode(tokens, skip_special_tokens=True))
        return out

    def _eos(self, kwargs) -> List[int]:
        eos = kwargs.get("eos_token_id", self.model.generation_config.get("eos_token_id"))
        return [eos] if isinstance(eos, int) else list(eos or [])


class Generator(_TextModel):
    """A decoder-only language model with its tokenizer."""

    kind = "decoder"

    def generate_text(self, prompts, **generate_kwargs) -> List[str]:
        """The continuation of each prompt (left-padded as a batch)."""
        ids, mask = self._batch(_as_list(prompts, "prompts"), left=True)
        generate_kwargs.setdefault("pad_token_id", self.pad_id)
        sequences = self.model.generate(ids, mask, **generate_kwargs)
        return self._decode(sequences, ids.shape[1], self._eos(generate_kwargs))


class Translator(_TextModel):
    """An encoder-decoder (translation) model with its tokenizer."""

    kind = "encoder-decoder"

    def translate(self, sentences, **generate_kwargs) -> List[str]:
        """The translation of each sentence (beam search when num_beams > 1, as configured)."""
        ids, mask = self._batch(_as_list(sentences, "sentences"), left=False)
        generate_kwargs.setdefault("pad_token_id", self.pad_id)
        sequences = self.model.generate(ids, mask, **generate_kwargs)
        return self._decode(sequences, 1, self._eos(generate_kwargs))
