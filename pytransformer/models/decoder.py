"""Decoders: the decoder-only stack (GPT-2, LLaMA) and the decoder half of an encoder-decoder
(the 2017 paper, Marian, BART), token ids in, logits out.

The layer code takes the positions of the tokens it is given and the keys/values to attend to,
so that generation with a KV cache only changes what is passed in, not the layers.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _checks, quantize
from ..backends import CPU
from ..config import ModelConfig
from ..weights import Tensors
from .embeddings import Embeddings
from .encoder import EncoderStack, PackedBatch, key_padding_mask, token_ids
from .cache import DecoderCache
from .layers import (Attention, FeedForward, Linear, Norm, relative_bias, release_pages,
                     shared_bias, whole_layer)


class DecoderLayer:
    def __init__(self, config: ModelConfig, tensors: Tensors, name: str, cross: bool, backend=CPU,
                 sliding_window: int = 0):
        self.pre_norm = config.norm_position == "pre"
        self.parallel_residual = config.parallel_residual
        self.self_attn = Attention(config, tensors, name + ".self_attn", backend=backend,
                                   sliding_window=sliding_window)
        self.self_attn_norm = Norm(config, tensors, name + ".self_attn_norm", backend)
        self.cross_attn = Attention(config, tensors, name + ".cross_attn", cross=True,
                                    backend=backend) if cross else None
        self.cross_attn_norm = Norm(config, tensors, name + ".cross_attn_norm", backend) if cross else None
        self.ffn = FeedForward(config, tensors, name + ".ffn", backend)
        self.ffn_norm = Norm(config, tensors, name + ".ffn_norm", backend)
        self.whole = whole_layer(config, self.self_attn, self.self_attn_norm, self.ffn,
                                 self.ffn_norm, self.cross_attn, self.cross_attn_norm, backend)

    def __call__(self, h, self_mask, positions, memory_kv=None, memory_offsets=None, cache=None,
                 layer: int = 0, bias=None) -> np.ndarray:
        """bias: self-attention's [1, H, T, keys] (relative positions)."""
        if self.whole is not None:
            memory_k, memory_v = memory_kv if memory_kv is not None else (None, None)
            return self.whole.forward(
                h, positions=positions, key_padding_mask=self_mask, causal=True,
                attention_bias=shared_bias(bias, h.shape[0]),
                cache=None if cache is None else cache.store, cache_layer=layer,
                cache_start=0 if cache is None else cache.length, memory_k=memory_k,
                memory_v=memory_v, memory_offsets=memory_offsets)

        def self_attention(x, r):
            return self.self_attn(x, r, key_padding_mask=self_mask, causal=True,
                                  positions=positions, cache=cache, layer=layer, bias=bias)

        if self.parallel_residual:  # h + attn(norm1(h)) + ffn(norm2(h))
            return self.ffn(self.ffn_norm(h), self_attention(self.self_attn_norm(h), h))
        sub_layers = [(self.self_attn_norm, self_attention)]
        if self.cross_attn is not None:
            sub_layers.append((self.cross_attn_norm, lambda x, r: self.cross_attn(
                x, r, memory_kv=memory_kv, offsets=memory_offsets)))
        sub_layers.append((self.ffn_norm, self.ffn))
        for norm, block in sub_layers:
            # pre-LN: h + f(LN(h)); post-LN: LN(h + f(h)). The residual add is fused into f.
            h = block(norm(h), h) if self.pre_norm else norm(block(h, h))
        return h


class DecoderStack:
    """Embeddings, layers, final norm and the output projection (tied to the token embedding
    unless the checkpoint has an lm_head)."""

    def __init__(self, config: ModelConfig, tensors: Tensors, cross: bool, backend=CPU):
        self.config = config
        self.backend = backend
        num_layers = config.decoder_layers
        prefix, fallback = ("decoder_embed", "embed") if cross else ("embed", None)
        self.embeddings = Embeddings(config, tensors, prefix, fallback, backend)
        self.relative_bias = relative_bias(config, tensors, "decoder.relative_bias", bidirectional=False)
        self.layers = []
        for i in range(num_layers):
            self.layers.append(DecoderLayer(config, tensors, f"decoder.{i}", cross, backend,
                                            config.sliding_window_of(i)))
            release_pages(tensors)
        self.final_norm = Norm(config, tensors, "decoder.final_norm", backend) if config.final_norm else None
        self.lm_head = Linear(tensors if "lm_head.weight" in tensors else self._tied_head(tensors),
                              "lm_head", backend=backend)
        release_pages(tensors)

    def _tied_head(self, tensors: Tensors) -> dict:
        """The output projection tied to the token embedding. An int8 model gets its own int8
        copy (the vocabulary projection is the largest Linear of a small model) while the
        lookups keep reading the float32 table, whose pages stay in the mapped file."""
        weight = self.embeddings.tokens
        head = {"lm_head.bias": tensors["lm_head.bias"]} if "lm_head.bias" in tensors else {}
        if quantize.is_quantized(tensors):
            head["lm_head.weight"], head["lm_head.weight_scale"] = quantize.quantize_rows(weight)
        else:
            head["lm_head.weight"] = weight
        return head

    def positions(self, ids: np.ndarray, position_ids) -> np.ndarray:
        B, T = ids.shape
        if position_ids is None:
            position_ids = np.broadcast_to(np.arange(T, dtype=np.int64), (B, T))
        position_ids = np.ascontiguousarray(_checks.integers(position_ids, "position_ids"))
        if position_ids.shape != (B, T):
            raise ValueError(f"position_ids: expected shape {(B, T)}, got {position_ids.shape}")
        limit = self.embeddings.max_positions
        if position_ids.size and (position_ids.min() < 0 or (limit is not None and position_ids.max() >= limit)):
            expected = "non-negative positions" if limit is None else f"positions in [0, {limit})"
            raise ValueError(f"position_ids: expected {expected}, got "
                             f"[{position_ids.min()}, {position_ids.max()}]")
        return position_ids

    def __call__(self, ids, self_mask, position_ids, memory_kv=None, memory_offsets=None,
                 cache=None, last_only: bool = False) -> np.ndarray:
        """Logits (NumPy) of ids [B, T]; with last_only, of the last position only ([B, 1, V])."""
        h = self.embeddings(ids, position_ids)
        bias = None
        if self.relative_bias is not None:  # by cache position, as transformers' T5
            start = 0 if cache is None else cache.length
            end = start + ids.shape[1]
            bias = self.relative_bias(np.arange(start, end), np.arange(end))
        for i, layer in enumerate(self.layers):
            h = layer(h, self_mask, position_ids, memory_kv[i] if memory_kv else None,
                      memory_offsets, cache, i, bias)
        if cache is not None:
            cache.length += ids.shape[1]
        if last_only:
            h = self.backend.contiguous(h[:, -1:])
        if self.final_norm is not None:
            h = self.final_norm(h)
        return self.backend.to_numpy(self.lm_head(h))

    def new_cache(self, rows: int, max_length: int, group_size: int) -> DecoderCache:
        rows = _checks.positive_int(rows, "rows")
        max_length = _checks.positive_int(max_length, "max_length")
        group_size = _checks.positive_int(group_size, "group_size")
        limit = self.embeddings.max_positions
        if limit is not None and max_length > limit:
            raise ValueError(f"max_length: {max_length} exceeds the model's {limit} positions")
        return DecoderCache(self.config, len(self.layers), rows, max_length, group_size, self.backend)

    def step(self, ids, cache: DecoderCache, attention_mask, position_ids, memory_kv=None,
             memory_offsets=None, last_only: bool = True) -> np.ndarray:
        """One decoding step over the cache: ids [R, n] at positions cache.length.. (or
        position_ids); attention_mask [R, cache.length + n] (1 = token, 0 = padding) or None."""
        ids = token_ids(ids, "input_ids", self.config.vocab_size)
        R, n = ids.shape
        if R != cache.rows:
            raise ValueError(f"input_ids: expected {cache.rows} rows (the cache's), got {R}")
        if cache.length + n > cache.max_length:
            raise ValueError(f"input_ids: {cache.length} cached + {n} new positions exceed the "
                             f"cache's max_length {cache.max_length}")
        if position_ids is None:
            position_ids = np.arange(cache.length, cache.length + n, dtype=np.int64)
        position_ids = self.positions(ids, np.broadcast_to(position_ids, (R, n)))
        mask = key_padding_mask(attention_mask, (R, cache.length + n))
        return self(ids, mask, position_ids, memory_kv, memory_offsets, cache, last_only)


class Generates:
    """Hugging Face ``generate`` for a model with start()/step() (Decoder, EncoderDecoder)."""

    generation_config: dict = {}  # raw HF generation defaults, set by pytransformer.load

    def generate(self, input_ids, attention_mask=None, **kwargs):
        """Hugging Face ``generate`` over the KV cache; see :mod:`pytransformer.generate`.

        input_ids [B, S]: a batch of prompts (decoder-only: left-padded, attention_mask 0 on
        padding) or of sources (encoder-decoder). Keyword arguments as HF's, each defaulting
        to the checkpoint's ``generation_config`` and then HF's default: max_new_tokens,
        min_new_tokens, num_beams, length_penalty, early_stopping (True, False or "never"),
        num_return_sequences, do_sample, temperature, top_k (HF default 50 when sampling; 0
        disables), top_p, repetition_penalty, no_repeat_ngram_size, bad_words_ids, eos_token_id
        (int or list; [] for none), pad_token_id, bos_token_id, decoder_start_token_id,
        forced_bos_token_id, forced_eos_token_id, seed (NumPy generator seed for sampling),
        streamer (a callable given each new token column, int64 [rows]), return_scores.

        Returns int64 [B * num_return_sequences, L]: the prompt (encoder-decoder: the decoder
        start token) followed by the new tokens, rows padded with pad_token_id after EOS; with
        return_scores=True also float32 [rows] scores (beam search: HF's sequences_scores;
        greedy/sampling: the sum of the chosen tokens' log-probabilities under the processed
        scores)."""
        from ..generate import generate

        return generate(self, input_ids, attention_mask, **kwargs)

    def generate_tokens(self, input_ids, attention_mask=None, **kwargs):
        """An iterator over the new token columns (int64 [rows]) as :meth:`generate` makes
        them; stopping the iteration stops the decoding. Beam search yields after the search."""
        from ..generate import generate_tokens

        return generate_tokens(self, input_ids, attention_mask, **kwargs)


class Decoder(Generates):
    """A decoder-only language model (GPT-2, LLaMA)."""

    def __init__(self, config: ModelConfig, tensors: Tensors, backend=CPU):
        if config.kind != "decoder":
            raise ValueError(f"config.kind: Decoder needs 'decoder', got {config.kind!r}")
        self.config = config
        self.backend = backend
        self.stack = DecoderStack(config, tensors, cross=False, backend=backend)

    def forward(self, input_ids, attention_mask=None, position_ids=None) -> np.ndarray:
        """Logits [B, T, vocab] of input_ids [B, T]; attention_mask as in Hugging Face (1 =
        token, 0 = padding); position_ids default to 0..T-1 for every row (for a model whose
        positions count the real tokens only, OPT, to each token's index among them)."""
        ids = token_ids(input_ids, "input_ids", self.config.vocab_size)
        mask = key_padding_mask(attention_mask, ids.shape)
        if position_ids is None and mask is not None and self.config.positions_skip_padding:
            position_ids = np.maximum(np.cumsum(~mask, axis=1) - 1, 0)
        return self.stack(ids, mask, self.stack.positions(ids, position_ids))

    def start(self, rows: int, max_length: int, group_size: int = 1) -> DecoderCache:
        """A KV cache for decoding ``rows`` sequences (batch x beams, in groups of group_size)
        of up to max_length positions (prompt included)."""
        return self.stack.new_cache(rows, max_length, group_size)

    def step(self, input_ids, cache: DecoderCache, attention_mask=None, position_ids=None,
             last_only: bool = True) -> np.ndarray:
        """Logits [R, 1, vocab] (all n positions unless last_only) of input_ids [R, n], the
        next positions after the cache's; the prompt is the first step. attention_mask covers
        the cached and new positions, [R, cache.length + n]; position_ids [R, n] default to
        cache.length + 0..n-1 (pass them for left-padded prompts)."""
        return self.stack.step(input_ids, cache, attention_mask, position_ids, last_only=last_only)


class EncoderDecoder(Generates):
    """A sequence-to-sequence model: the 2017 paper's Transformer, Marian, BART."""

    def __init__(self, config: ModelConfig, tensors: Tensors, backend=CPU):
        if config.kind != "encoder-decoder":
            raise ValueError(f"config.kind: EncoderDecoder needs 'encoder-decoder', got {config.kind!r}")
        self.config = config
        self.backend = backend
        self.encoder = EncoderStack(config, tensors, backend)
        self.decoder = DecoderStack(config, tensors, cross=True, backend=backend)

    def encode(self, input_ids, attention_mask=None) -> np.ndarray:
        """Encoder output [B, S, d_model] (zeros at padded positions)."""
        ids = token_ids(input_ids, "input_ids", self.config.vocab_size)
        batch = PackedBatch(key_padding_mask(attention_mask, ids.shape), ids.shape)
        return batch.unpack(self.backend.to_numpy(self.encoder(ids, batch)))

    def _memory(self, input_ids, attention_mask, rows_per_source: int = 1):
        """Cross-attention keys and values of every decoder layer over the packed encoder output
        (the source's real tokens only), each source repeated rows_per_source times, and their
        offsets."""
        ids = token_ids(input_ids, "input_ids", self.config.vocab_size)
        batch = PackedBatch(key_padding_mask(attention_mask, ids.shape), ids.shape)
        memory, offsets = self.encoder(ids, batch), batch.offsets
        if rows_per_source > 1:
            sources = np.repeat(np.arange(ids.shape[0]), rows_per_source)
            index = np.concatenate([np.arange(offsets[b], offsets[b + 1]) for b in sources])
            memory = self.backend.take_rows(memory[0], index)[None]
            lengths = (offsets[1:] - offsets[:-1])[sources]
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        memory_kv = [layer.cross_attn.project_memory(memory) for layer in self.decoder.layers]
        return memory_kv, offsets

    def forward(self, input_ids, decoder_input_ids, attention_mask=None,
                decoder_attention_mask=None) -> np.ndarray:
        """Logits [B, T, vocab] of decoder_input_ids [B, T] given the source input_ids [B, S]."""
        target = token_ids(decoder_input_ids, "decoder_input_ids", self.config.vocab_size)
        memory_kv, offsets = self._memory(input_ids, attention_mask)
        if target.shape[0] != len(offsets) - 1:
            raise ValueError(f"decoder_input_ids: batch {target.shape[0]} differs from "
                             f"input_ids' {len(offsets) - 1}")
        return self.decoder(target, key_padding_mask(decoder_attention_mask, target.shape),
                            self.decoder.positions(target, None), memory_kv, offsets)

    def start(self, input_ids, attention_mask=None, *, max_length: int,
              group_size: int = 1) -> DecoderCache:
        """Encode the source input_ids [B, S] once and return a decoding cache for B x
        group_size rows (row r decodes source r // group_size) of up to max_length target
        positions, holding every layer's cross-attention keys and values of the source."""
        group_size = _checks.positive_int(group_size, "group_size")  # before the encoder runs
        memory_kv, offsets = self._memory(input_ids, attention_mask, group_size)
        cache = self.decoder.new_cache(len(offsets) - 1, max_length, group_size)
        cache.memory_kv, cache.memory_offsets = memory_kv, offsets
        return cache

    def step(self, decoder_input_ids, cache: DecoderCache, decoder_attention_mask=None,
             last_only: bool = True) -> np.ndarray:
        """Logits [R, 1, vocab] (all n positions unless last_only) of decoder_input_ids [R, n]
        following the cache's positions, attending to the source given to start()."""
        if cache.memory_kv is None:
            raise ValueError("cache: not made by EncoderDecoder.start (it holds no source)")
        return self.decoder.step(decoder_input_ids, cache, decoder_attention_mask, None,
                                 cache.memory_kv, cache.memory_offsets, last_only)
