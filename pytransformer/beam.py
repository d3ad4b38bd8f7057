"""Beam search (and beam sampling), transcribed from transformers 5.x ``GenerationMixin.
_beam_search`` and its helpers (_get_top_k_continuations, _get_running_beams_for_next_iteration,
_update_finished_beams, _check_early_stop_heuristic, _beam_search_has_unfinished_sequences)
in float32 NumPy, so that sequences and sequences_scores come out as HF's.

Shapes follow HF: [batch, beams, ...]. The cache rows (batch x beams, in groups of num_beams) are
reordered once per step with the running beams' sources, as HF reorders its cache.
"""

from __future__ import annotations

import numpy as np

from .logits import log_softmax, softmax

NEG = np.float32(-1.0e9)


def _topk(values: np.ndarray, k: int):
    """Top k along the last axis, descending; equal values in index order (what torch.topk
    gives on CPU for the ties that matter here, e.g. the -1e9 of unused beams)."""
    order = np.argsort(-values, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(values, order, axis=-1), order


def _gather(array: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """HF's _gather_beams: array [B, N, ...] indexed along axis 1 by indices [B, K]."""
    return array[np.arange(array.shape[0])[:, None], indices]


def beam_search(gen):
    """Run the search of a generate.Generation; returns (sequences [B * num_return_sequences,
    L] int64, sequences_scores [B * num_return_sequences] float32)."""
    s, run = gen.settings, gen.run
    B, nb = gen.batch, s.num_beams
    prompt = run.prompt  # [B * nb, T]
    prompt_len = cur = prompt.shape[1]
    max_length = prompt_len + gen.max_new
    eos = np.asarray(s.eos or [], np.int64)
    early = s.early_stopping
    lp = s.length_penalty
    K = max(2, 1 + eos.size) * nb  # enough candidates that nb survive if the best end in EOS
    top_num_beam_mask = np.arange(K) < nb

    # HF: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1` (a pad id of 0
    # counts as unset there, so EOS fills then).
    fill = (s.pad or int(eos[0])) if eos.size else -1
    running_seqs = np.full((B, nb, max_length), fill, np.int64)
    running_seqs[:, :, :cur] = prompt.reshape(B, nb, cur)
    seqs = running_seqs.copy()
    running_scores = np.zeros((B, nb), np.float32)
    running_scores[:, 1:] = NEG  # only beam 0 spreads at first, else all beams pick the same
    beam_scores = np.full((B, nb), NEG, np.float32)
    finished = np.zeros((B, nb), bool)
    unsatisfied = np.ones((B, 1), bool)  # improvement still possible (early-stop heuristic)
    running_beam_idx = np.full((B, nb, max_length - cur), -1, np.int64)
    beam_idx = running_beam_idx.copy()
    offsets = (np.arange(B) * nb)[:, None]

    logits = run.first()
    while True:
        flat = running_seqs[:, :, :cur].reshape(B * nb, cur)
        log_probs = log_softmax(logits.astype(np.float32, copy=False))
        log_probs = gen.processors(flat, log_probs, sampling=s.do_sample)
        V = log_probs.shape[-1]
        log_probs = (log_probs.reshape(B, nb, V) + running_scores[:, :, None]).reshape(B, nb * V)

        # c. top-K continuations over all beams (sampled without replacement in beam sampling)
        if s.do_sample:
            probs = softmax(log_probs).astype(np.float64)
            picks = np.stack([gen.rng.choice(nb * V, size=K, replace=False, p=row / row.sum())
                              for row in probs])
            picked = np.take_along_axis(log_probs, picks, axis=-1)
            order = np.argsort(-picked, axis=-1, kind="stable")
            topk_log_probs = np.take_along_axis(picked, order, -1)
            topk_indices = np.take_along_axis(picks, order, -1)
        else:
            topk_log_probs, topk_indices = _topk(log_probs, K)
        topk_beams = topk_indices // V
        topk_ids = topk_indices % V
        topk_running_beam_idx = _gather(running_beam_idx, topk_beams)
        topk_running_seqs = _gather(running_seqs, topk_beams)
        topk_running_seqs[:, :, cur] = topk_ids
        topk_running_beam_idx[:, :, cur - prompt_len] = topk_beams + offsets

        # d. stopping criteria of each candidate: max length, or EOS just produced
        hits = np.full((B, K), cur + 1 >= max_length)
        if eos.size:
            hits |= np.isin(topk_ids, eos)

        # e. the best nb unfinished candidates keep running
        candidate_scores = topk_log_probs + hits.astype(np.float32) * NEG
        _, keep = _topk(candidate_scores, nb)
        running_seqs = _gather(topk_running_seqs, keep)
        running_scores = _gather(candidate_scores, keep)
        running_beam_idx = _gather(topk_running_beam_idx, keep)

        # f. candidates among the top nb that just finished enter the finished set if better
        just_finished = hits & top_num_beam_mask[None, :]
        final = topk_log_probs / np.float32((cur + 1 - prompt_len) ** lp)
        full = finished.all(axis=-1, keepdims=True) & (early is True)
        final = final + full.astype(np.float32) * NEG
        final = final + (~unsatisfied).astype(np.float32) * NEG
        final = final + (~just_finished).astype(np.float32) * NEG
        merged_scores = np.concatenate([beam_scores, final], axis=1)
        _, best = _topk(merged_scores, nb)
        seqs = _gather(np.concatenate([seqs, topk_running_seqs], axis=1), best)
        beam_scores = _gather(merged_scores, best)
        beam_idx = _gather(np.concatenate([beam_idx, topk_running_beam_idx], axis=1), best)
        finished = _gather(np.concatenate([finished, just_finished], axis=1), best)

        sources = running_beam_idx[:, :, cur - prompt_len].reshape(-1)
        cur += 1

        # the early-stop heuristic and HF's loop condition
        if early == "never" and lp > 0.0:
            best_length = max_length - prompt_len
        else:
            best_length = cur - prompt_len
        best_running = running_scores[:, :1] / np.float32(best_length ** lp)
        worst_finished = np.where(finished, beam_scores.min(axis=1, keepdims=True), NEG)
        unsatisfied = unsatisfied & (best_running > worst_finished).any(axis=-1, keepdims=True)
        go_on = (unsatisfied.any() and not (finished.all() and early is True)
                 and not hits.all())
        if not go_on:
            break
        run.cache.reorder(sources)
        logits = run.step(running_seqs[:, :, cur - 1].reshape(-1))

    n = s.num_return_sequences
    seqs = seqs[:, :n].reshape(B * n, max_length)
    scores = beam_scores[:, :n].reshape(B * n)
    generated = (beam_idx[:, :n].reshape(B * n, -1) != -1).sum(axis=1).max()
    return seqs[:, :prompt_len + generated], scores
