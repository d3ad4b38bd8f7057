"""Logits processors: Hugging Face's ``logits_process.py`` as small functions over float32 NumPy
scores [rows, vocab], given the token ids so far [rows, cur_len], applied in the order
``GenerationMixin._get_logits_processor`` builds them:

  repetition_penalty, no_repeat_ngram, bad_words, min_length (min_new_tokens), forced_bos,
  forced_eos, then, when sampling only: temperature, top_k, top_p.

Greedy search and sampling apply them to the raw logits; beam search to their log-softmax.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NEG_INF = np.float32(-np.inf)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Float32 log-softmax over the last axis (as torch computes it: x - max - log sum exp)."""
    x = np.asarray(x, np.float32)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def repetition_penalty(scores, ids, penalty: float, ignore_before: Optional[np.ndarray]):
    """Tokens already in ids (from ignore_before[r] on): negative scores * penalty, positive
    ones / penalty (CTRL's rule, as HF)."""
    R, V = scores.shape
    ids = np.minimum(ids, V)  # ids past the head's vocab go to a spare column
    if ignore_before is not None:
        ids = np.where(np.arange(ids.shape[1])[None] < ignore_before[:, None], V, ids)
    seen = np.zeros((R, V + 1), bool)
    seen[np.arange(R)[:, None], ids] = True
    penalized = np.where(scores < 0, scores * np.float32(penalty), scores / np.float32(penalty))
    return np.where(seen[:, :V], penalized, scores)


def no_repeat_ngram(scores, ids, n: int):
    """Ban every token that would complete an n-gram already present in ids (padding included,
    as HF sees it)."""
    R, L = ids.shape
    if L < n:
        return scores
    windows = sliding_window_view(ids, n, axis=1)  # [R, L - n + 1, n]
    prefix = ids[:, L + 1 - n:]
    matches = (windows[..., :-1] == prefix[:, None]).all(axis=-1)
    rows, where = np.nonzero(matches)
    banned = windows[rows, where, -1]
    keep = banned < scores.shape[1]
    scores = scores.copy()
    scores[rows[keep], banned[keep]] = NEG_INF
    return scores


def bad_words(scores, ids, words, eos):
    """HF's NoBadWordsLogitsProcessor: single tokens always banned; longer sequences ban their
    last token when ids end with the rest. A bad word equal to [eos] is ignored."""
    scores = scores.copy()
    for word in words:
        word = [int(t) for t in word]
        if eos and len(word) == 1 and word[0] in eos:
            continue
        head, last = word[:-1], word[-1]
        if not head:
            scores[:, last] = NEG_INF
        elif ids.shape[1] >= len(head):
            hit = (ids[:, ids.shape[1] - len(head):] == np.asarray(head)).all(axis=1)
            scores[hit, last] = NEG_INF
    return scores


def force_tokens(scores, tokens):
    """Every score -inf but those of tokens, which become 0 (forced BOS / EOS)."""
    forced = np.full_like(scores, NEG_INF)
    forced[:, tokens] = 0
    return forced


def temperature(scores, t: float):
    return scores / np.float32(t)


def top_k(scores, k: int, min_keep: int = 1):
    """Keep the k highest scores (ties with the k-th kept too), the rest -inf."""
    k = min(max(k, min_keep), scores.shape[-1])
    kth = -np.partition(-scores, k - 1, axis=-1)[:, k - 1:k]
    return np.where(scores < kth, NEG_INF, scores)


def top_p(scores, p: float, min_keep: int = 1):
    """Nucleus: drop the lowest-probability tokens whose cumulative probability (ascending) is
    <= 1 - p, always keeping the min_keep most probable."""
    order = np.argsort(scores, axis=-1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=-1)
    cumulative = np.cumsum(softmax(sorted_scores), axis=-1)
    remove_sorted = cumulative <= np.float32(1 - p)
    remove_sorted[:, -min_keep:] = False
    remove = np.zeros_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, NEG_INF, scores)


class Processors:
    """The processor list of one generate call (settings from generate.Settings)."""

    def __init__(self, settings, prompt_length: int, max_length: int, min_length: int,
                 ignore_before: Optional[np.ndarray], min_keep: int = 1):
        self.s = settings
        self.max_length = max_length
        self.min_length = min_length
        self.ignore_before = ignore_before
        self.min_keep = min_keep

    def __call__(self, ids: np.ndarray, scores: np.ndarray, sampling: bool) -> np.ndarray:
        s, cur = self.s, ids.shape[1]
        if s.repetition_penalty != 1.0:
            scores = repetition_penalty(scores, ids, s.repetition_penalty, self.ignore_before)
        if s.no_repeat_ngram_size > 0:
            scores = no_repeat_ngram(scores, ids, s.no_repeat_ngram_size)
        if s.bad_words_ids:
            scores = bad_words(scores, ids, s.bad_words_ids, s.eos)
        if s.eos and self.min_length > 0 and cur < self.min_length:
            scores = scores.copy()
            scores[:, [e for e in s.eos if e < scores.shape[1]]] = NEG_INF  # HF skips ids past V
        if s.forced_bos is not None and cur == 1:
            scores = force_tokens(scores, [s.forced_bos])
        if s.forced_eos is not None and cur == self.max_length - 1:
            scores = force_tokens(scores, s.forced_eos)
        if sampling:
            if s.temperature != 1.0:
                scores = temperature(scores, s.temperature)
            if s.top_k != 0:
                scores = top_k(scores, s.top_k, self.min_keep)
            if s.top_p < 1.0:
                scores = top_p(scores, s.top_p, self.min_keep)
        return scores
