"""Text generation with Hugging Face ``generate`` semantics over our KV-cache decoding API.

Greedy search, multinomial sampling, beam search (and beam sampling) for decoder-only models
(:class:`~pytransformer.models.Decoder`) and encoder-decoders (:class:`EncoderDecoder`). The
algorithms mirror transformers 5.x (``GenerationMixin._sample`` / ``_beam_search`` and the
logits processors of ``logits_process.py``) step for step, in float32 NumPy, so that greedy and
beam search give the same tokens as ``transformers`` on the same weights. Sampling draws from
a NumPy ``Generator`` (seeded by ``seed``): reproducible, but not torch's random stream.

Every step feeds one new token per row through the KV cache and computes the logits of that
position only. Beam search keeps rows = batch x num_beams in the cache, in groups of num_beams,
and reorders the cache rows (within their group) as HF reorders its cache.

Streaming: ``streamer(tokens)`` is called with an int64 array [rows] (rows = batch x
num_return_sequences, in output order) for every new token column as it is produced in greedy
search and sampling (rows that already finished get pad_token_id, exactly what is appended to the
output). Beam search only knows its result at the end (HF does not stream beams either): the
streamer then receives the returned sequences' new tokens, column by column, after the search.
:func:`generate_tokens` yields the same arrays; leaving the loop early stops the work.
"""

from __future__ import annotations

import numbers
from typing import Callable, Dict, Iterator, List, Mapping, Optional

import numpy as np

from . import _checks
from .logits import Processors, log_softmax, softmax

# transformers' GenerationConfig._get_default_generation_params(): used when neither the call
# nor the checkpoint sets a value.
HF_DEFAULTS = {
    "max_length": 20, "min_length": 0, "do_sample": False, "early_stopping": False,
    "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0,
    "length_penalty": 1.0, "no_repeat_ngram_size": 0, "num_return_sequences": 1,
    "bad_words_ids": None, "forced_bos_token_id": None, "forced_eos_token_id": None,
    "bos_token_id": None, "eos_token_id": None, "pad_token_id": None,
    "decoder_start_token_id": None, "min_new_tokens": None, "max_new_tokens": None,
}
# The generation-related keys of a checkpoint's config.json (read when there is no
# generation_config.json, as GenerationConfig.from_model_config does).
GENERATION_KEYS = tuple(HF_DEFAULTS)

NEG = np.float32(-1.0e9)  # HF's "very large negative" beam score


def _is_id(value, vocab: Optional[int]) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and float(value).is_integer() and value >= 0 and (vocab is None or value < vocab))


def _int_list(value, name: str, vocab: Optional[int] = None) -> Optional[List[int]]:
    """A token id or a list of them as a list of ints (None for none); ids in [0, vocab) when
    vocab is given (those that index the scores or the embedding)."""
    if value is None:
        return None
    values = list(np.asarray(value, dtype=object).reshape(-1))
    if not values:  # an explicit [] overrides the checkpoint's value with "none"
        return None
    if not all(_is_id(v, vocab) for v in values):
        expected = "non-negative" if vocab is None else f"in [0, {vocab})"
        raise ValueError(f"{name}: expected a token id {expected} or a list of them, got {value!r}")
    return [int(v) for v in values]


def _words(value, name: str, vocab: int) -> Optional[List[List[int]]]:
    """bad_words_ids: as HF, a list of non-empty lists of token ids (here in [0, vocab))."""
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(word, (list, tuple, np.ndarray)) and len(word) for word in value):
        raise ValueError(f"{name}: expected a list of non-empty lists of token ids, got {value!r}")
    return [_int_list(word, name, vocab) for word in value] or None


class Settings:
    """The call's arguments over the checkpoint's generation config over HF's defaults,
    checked once (ValueError or TypeError naming the argument, or generation_config.<key> for
    a value from the checkpoint)."""

    def __init__(self, model, kwargs: Dict, encoder_decoder: bool):
        checkpoint = getattr(model, "generation_config", None) or {}
        if not isinstance(checkpoint, Mapping):
            raise TypeError(f"generation_config: expected a dict of generation settings, got "
                            f"{type(checkpoint).__name__}")
        unknown = sorted(set(kwargs) - set(HF_DEFAULTS))
        if unknown:
            raise TypeError(f"generate: unknown arguments {unknown}")
        vocab = model.config.vocab_size

        def pick(key, convert=None, *args):
            """The call's value, else the checkpoint's, else HF's default; converted (and
            checked) by convert(value, name, *args), named after where it came from."""
            if kwargs.get(key) is not None:
                value, name = kwargs[key], key
            elif checkpoint.get(key) is not None:
                value, name = checkpoint[key], f"generation_config.{key}"
            else:
                value, name = HF_DEFAULTS[key], key
            return value if convert is None or value is None else convert(value, name, *args)

        integer, finite = _checks.integer, _checks.finite
        self.do_sample = pick("do_sample", _checks.boolean)
        self.num_beams = pick("num_beams", integer, 1)
        self.num_return_sequences = pick("num_return_sequences", integer, 1)
        self.temperature = pick("temperature", finite)
        self.top_k = pick("top_k", integer, 0)
        self.top_p = pick("top_p", finite)
        self.repetition_penalty = pick("repetition_penalty", finite)
        self.no_repeat_ngram_size = pick("no_repeat_ngram_size", integer, 0)
        self.length_penalty = pick("length_penalty", finite)
        self.early_stopping = pick("early_stopping")
        self.bad_words_ids = pick("bad_words_ids", _words, vocab)
        self.eos = pick("eos_token_id", _int_list)
        pad = pick("pad_token_id", _int_list)
        # HF: an unset pad token becomes the first EOS token.
        self.pad = pad[0] if pad else (self.eos[0] if self.eos else None)
        # The decoder start token (else BOS) is looked up in an encoder-decoder's embedding.
        start_vocab = vocab if encoder_decoder else None
        start = (pick("decoder_start_token_id", _int_list, start_vocab)
                 or pick("bos_token_id", _int_list, start_vocab))
        self.decoder_start = start[0] if start else None
        forced_bos = pick("forced_bos_token_id", _int_list, vocab)
        self.forced_bos = forced_bos[0] if forced_bos else None
        self.forced_eos = pick("forced_eos_token_id", _int_list, vocab)
        new = kwargs.get("max_new_tokens")
        self.max_new_tokens = None if new is None else integer(new, "max_new_tokens", 1)
        max_length = checkpoint.get("max_length")
        self.checkpoint_max_length = (None if max_length is None else
                                      integer(max_length, "generation_config.max_length", 1))
        self.min_new_tokens = pick("min_new_tokens", integer, 0)
        self.min_length = pick("min_length", integer, 0)
        self.encoder_decoder = encoder_decoder
        self._check(vocab)

    def _check(self, vocab: int) -> None:
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            raise ValueError(f"num_return_sequences: {self.num_return_sequences} exceeds "
                             f"num_beams={self.num_beams}")
        if self.num_beams == 1 and not self.do_sample and self.num_return_sequences > 1:
            raise ValueError(f"num_return_sequences: greedy search returns 1 sequence per input, "
                             f"got {self.num_return_sequences} (use num_beams or do_sample)")
        if not self.temperature > 0 and (self.do_sample or self.temperature < 0):
            raise ValueError(f"temperature: expected a positive float, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p: expected a float in (0, 1], got {self.top_p}")
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty: expected a positive float, got "
                             f"{self.repetition_penalty}")
        if self.early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping: expected True, False or 'never', got "
                             f"{self.early_stopping!r}")
        # Beam search ranks max(2, 1 + #EOS) x num_beams candidates out of num_beams x vocab
        # (HF's beams_to_keep; its torch.topk fails when there are fewer).
        n_eos = len(self.eos or [])
        if self.num_beams > 1 and max(2, 1 + n_eos) > vocab:
            raise ValueError(f"eos_token_id: beam search keeps max(2, 1 + {n_eos} EOS ids) "
                             f"candidates per beam, more than the vocabulary's {vocab} tokens")
        if self.encoder_decoder and self.decoder_start is None:
            raise ValueError("decoder_start_token_id: an encoder-decoder needs a decoder start "
                             "token (or bos_token_id); none given and none in the checkpoint")

    def lengths(self, prompt_length: int):
        """(max_new_tokens, min_length) for a decoder prompt of prompt_length tokens, as HF's
        _prepare_generated_length: max_new_tokens wins; else the checkpoint's max_length (a total
        length); else 20 new tokens."""
        if self.max_new_tokens is not None:
            new = self.max_new_tokens
        elif self.checkpoint_max_length is not None:
            new = self.checkpoint_max_length - prompt_length
            if new < 1:
                raise ValueError(f"max_new_tokens: not given, and the checkpoint's max_length "
                                 f"{self.checkpoint_max_length} leaves no room after the "
                                 f"{prompt_length}-token prompt")
        else:
            new = HF_DEFAULTS["max_length"]
        min_length = self.min_length
        if self.min_new_tokens is not None:
            min_length = self.min_new_tokens + prompt_length
        return new, min_length


def infer_attention_mask(ids: np.ndarray, attention_mask, settings: Settings) -> np.ndarray:
    """HF's _prepare_attention_mask_for_generation: given, or ids != pad when the pad token
    occurs in the input and is not an EOS token, else all ones."""
    if attention_mask is not None:
        mask = np.asarray(attention_mask)
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask: expected shape {ids.shape}, got {mask.shape}")
        return (mask != 0).astype(np.int64)
    pad, eos = settings.pad, settings.eos or []
    if pad is not None and pad not in eos and np.any(ids == pad):
        return (ids != pad).astype(np.int64)
    return np.ones(ids.shape, np.int64)


class _DecoderOnlyRun:
    """Cache rows for a decoder-only model: prompts left-padded, positions cumsum(mask) - 1."""

    def __init__(self, model, ids, mask, expand: int, group: int, max_new: int):
        self.model = model
        self.ids = np.repeat(ids, expand, axis=0)
        R, T = self.ids.shape
        limit = model.stack.embeddings.max_positions
        if limit is not None and T > limit:
            raise ValueError(f"input_ids: a prompt of {T} tokens exceeds the model's {limit} positions")
        if limit is not None and T + max_new - 1 > limit:
            raise ValueError(f"max_new_tokens: {T} prompt + {max_new} new tokens exceed the "
                             f"model's {limit} positions")
        # The last token is appended without a forward pass: T + max_new - 1 cached positions.
        self.cache = model.start(R, T + max_new - 1, group_size=group)
        self.mask = np.ones((R, T + max_new), np.int64)
        self.mask[:, :T] = np.repeat(mask, expand, axis=0)
        self.padded = not self.mask.all()
        positions = np.cumsum(self.mask[:, :T], axis=1) - 1
        self.positions = np.where(self.mask[:, :T] == 0, 0, positions)
        self.next_position = self.positions[:, -1:] + 1

    @property
    def prompt(self) -> np.ndarray:
        return self.ids

    def first(self) -> np.ndarray:
        return self.model.step(self.ids, self.cache, attention_mask=self._mask(self.ids.shape[1]),
                               position_ids=self.positions)[:, -1]

    def _mask(self, n: int):
        # All ones (no padding) needs no mask at all.
        return np.ascontiguousarray(self.mask[:, :self.cache.length + n]) if self.padded else None

    def step(self, tokens: np.ndarray) -> np.ndarray:
        logits = self.model.step(tokens[:, None], self.cache, attention_mask=self._mask(1),
                                 position_ids=self.next_position)
        self.next_position = self.next_position + 1
        return logits[:, -1]


class _EncoderDecoderRun:
    """Cache rows for an encoder-decoder: the source encoded once; decoder starts from the
    decoder start token."""

    def __init__(self, model, ids, mask, expand: int, group: int, max_new: int, start: int):
        self.model = model
        limit = model.encoder.embeddings.max_positions
        if limit is not None and ids.shape[1] > limit:
            raise ValueError(f"input_ids: a source of {ids.shape[1]} tokens exceeds the model's "
                             f"{limit} positions")
        dec_limit = model.decoder.embeddings.max_positions
        if dec_limit is not None and max_new > dec_limit:
            raise ValueError(f"max_new_tokens: {max_new} exceeds the decoder's {dec_limit} positions")
        # expand == group: row r decodes source r // group (beams, or sampled sequences).
        self.cache = model.start(ids, mask, max_length=max_new, group_size=expand)
        self.start_ids = np.full((ids.shape[0] * expand, 1), start, np.int64)

    @property
    def prompt(self) -> np.ndarray:
        return self.start_ids

    def first(self) -> np.ndarray:
        return self.model.step(self.start_ids, self.cache)[:, -1]

    def step(self, tokens: np.ndarray) -> np.ndarray:
        return self.model.step(tokens[:, None], self.cache)[:, -1]


class Generation:
    """One generate call. ``steps()`` yields the token columns (see the module docstring); when it
    is exhausted, ``sequences`` [rows, length] int64 and ``scores`` [rows] float32 are set
    (``scores`` only with track_scores: greedy and sampling then pay a log-softmax over the
    vocabulary per step, ~1 ms for 8 rows of GPT-2's 50257, which nothing else needs)."""

    def __init__(self, model, input_ids, attention_mask=None, *, seed=None,
                 track_scores: bool = True, **kwargs):
        from .models import Decoder, EncoderDecoder

        if isinstance(model, EncoderDecoder):
            encoder_decoder = True
        elif isinstance(model, Decoder):
            encoder_decoder = False
        else:
            raise TypeError(f"model: generation needs a Decoder or EncoderDecoder, got "
                            f"{type(model).__name__}")
        self.settings = s = Settings(model, kwargs, encoder_decoder)
        ids = np.asarray(input_ids)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or ids.shape[1] == 0 or ids.shape[0] == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"input_ids: expected integer token ids [batch, length] with length "
                             f">= 1, got shape {np.shape(input_ids)} dtype {ids.dtype}")
        ids = _checks.integers(ids, "input_ids")  # (uint64 ids past int64 would wrap negative)
        mask = infer_attention_mask(ids, attention_mask, s)
        self.batch = ids.shape[0]
        beams = s.num_beams > 1
        expand = s.num_beams if beams else s.num_return_sequences
        prompt_length = 1 if encoder_decoder else ids.shape[1]
        self.max_new, min_length = s.lengths(prompt_length)
        self.run = (_EncoderDecoderRun(model, ids, mask, expand, expand, self.max_new, s.decoder_start)
                    if encoder_decoder else
                    _DecoderOnlyRun(model, ids, mask, expand, s.num_beams if beams else 1, self.max_new))
        # HF's RepetitionPenaltyLogitsProcessor skips the left padding of decoder-only prompts
        # (index of the first non-zero mask entry); encoder-decoders have no decoder mask.
        ignore = None if encoder_decoder else np.argmax(np.repeat(mask, expand, axis=0) != 0, axis=1)
        self.processors = Processors(s, prompt_length, prompt_length + self.max_new, min_length,
                                     ignore, min_keep=(len(s.eos or []) + 1) if beams else 1)
        self.rng = np.random.default_rng(seed)
        self.track_scores = track_scores
        self.sequences: Optional[np.ndarray] = None
        self.scores: Optional[np.ndarray] = None

    def steps(self) -> Iterator[np.ndarray]:
        if self.settings.num_beams > 1:
            from .beam import beam_search

            self.sequences, self.scores = beam_search(self)
            start = self.run.prompt.shape[1]
            for column in range(start, self.sequences.shape[1]):
                yield self.sequences[:, column].copy()
        else:
            yield from self._sample()

    def _sample(self) -> Iterator[np.ndarray]:
        """HF's _sample: greedy (argmax) or multinomial over the processed scores; finished rows
        get pad_token_id; stop when every row hit EOS or max_new_tokens are made."""
        s, run = self.settings, self.run
        prompt = run.prompt
        R, T = prompt.shape
        seqs = np.empty((R, T + self.max_new), np.int64)
        seqs[:, :T] = prompt
        unfinished = np.ones(R, bool)
        self.scores = np.zeros(R, np.float32) if self.track_scores else None
        eos = np.asarray(s.eos or [], np.int64)
        logits = run.first()
        for n in range(self.max_new):
            cur = T + n
            scores = self.processors(seqs[:, :cur], logits.astype(np.float32, copy=False),
                                     sampling=s.do_sample)
            if s.do_sample:
                tokens = _multinomial(self.rng, softmax(scores))
            else:
                tokens = np.argmax(scores, axis=-1)
            if self.track_scores:
                logp = np.take_along_axis(log_softmax(scores), tokens[:, None], 1)[:, 0]
                self.scores += np.where(unfinished, logp, 0).astype(np.float32)
            if eos.size:
                tokens = np.where(unfinished, tokens, s.pad)
            seqs[:, cur] = tokens
            if eos.size:
                unfinished &= ~np.isin(tokens, eos)
            self.sequences = seqs[:, :cur + 1]
            yield tokens.copy()
            if not unfinished.any() or n + 1 == self.max_new:
                break
            logits = run.step(tokens)


def _multinomial(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from probs [R, V] (inverse CDF over float64 cumulative sums)."""
    cdf = np.cumsum(probs.astype(np.float64), axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    tokens = (cdf <= u[:, None]).sum(axis=-1)
    return np.minimum(tokens, probs.shape[1] - 1).astype(np.int64)


def generate(model, input_ids, attention_mask=None, *, streamer: Optional[Callable] = None,
             return_scores: bool = False, **kwargs):
    """See :meth:`pytransformer.models.Decoder.generate`."""
    run = Generation(model, input_ids, attention_mask, track_scores=return_scores, **kwargs)
    for tokens in run.steps():
        if streamer is not None:
            streamer(tokens)
    return (run.sequences, run.scores) if return_scores else run.sequences


def generate_tokens(model, input_ids, attention_mask=None, **kwargs) -> Iterator[np.ndarray]:
    """See :meth:`pytransformer.models.Decoder.generate_tokens`."""
    # Errors raise at the call, not at the first next().
    run = Generation(model, input_ids, attention_mask, track_scores=False, **kwargs)
    return run.steps()
