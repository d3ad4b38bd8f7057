"""Encoder-only Transformers (BERT and family, nn.TransformerEncoder): token ids in, last hidden
states out. Post-LN (the 2017 paper, BERT) and pre-LN layers are both supported."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _checks, _core
from ..config import ModelConfig
from ..weights import Tensors
from .layers import FeedForward, Norm, SelfAttention


class EncoderLayer:
    def __init__(self, config: ModelConfig, tensors: Tensors, name: str):
        self.pre_norm = config.norm_position == "pre"
        self.attention = SelfAttention(config, tensors, name + ".attn")
        self.attn_norm = Norm(config, tensors, name + ".attn_norm")
        self.ffn = FeedForward(config, tensors, name + ".ffn")
        self.ffn_norm = Norm(config, tensors, name + ".ffn_norm")

    def __call__(self, h: np.ndarray, key_padding_mask: Optional[np.ndarray]) -> np.ndarray:
        if self.pre_norm:  # h + Attn(LN(h)), then + FFN(LN(.))
            h = self.attention(self.attn_norm(h), key_padding_mask, residual=h)
            return self.ffn(self.ffn_norm(h), residual=h)
        # post-LN: LN(h + Attn(h)), then LN(. + FFN(.))
        h = self.attn_norm(self.attention(h, key_padding_mask, residual=h))
        return self.ffn_norm(self.ffn(h, residual=h))


class Encoder:
    """An encoder stack built from a config and canonical tensors (see pytransformer.weights)."""

    def __init__(self, config: ModelConfig, tensors: Tensors):
        if config.kind != "encoder":
            raise ValueError(f"config.kind: Encoder needs 'encoder', got {config.kind!r}")
        if config.positions not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"config.positions: {config.positions!r} is not supported by "
                             "encoders; supported: learned, sinusoidal, none")
        self.config = config
        self.tokens = np.ascontiguousarray(tensors["embed.tokens"], dtype=np.float32)
        if config.positions == "learned":
            self.positions = np.ascontiguousarray(tensors["embed.positions"], dtype=np.float32)
        elif config.positions == "sinusoidal":
            self.positions = _core.sinusoidal_positions(config.max_positions, config.d_model)
        else:
            self.positions = None
        self.token_types = (np.ascontiguousarray(tensors["embed.token_types"], dtype=np.float32)
                            if config.type_vocab_size else None)
        self.embed_norm = Norm(config, tensors, "embed.norm") if config.embedding_norm else None
        self.layers = [EncoderLayer(config, tensors, f"encoder.{i}") for i in range(config.num_layers)]
        self.final_norm = Norm(config, tensors, "encoder.final_norm") if config.final_norm else None

    def encode(self, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
        """Last hidden states [B, T, d_model] of input_ids [B, T]. attention_mask [B, T]
        follows Hugging Face: 1 = token, 0 = padding (padded positions' outputs are computed
        but never attended to)."""
        ids = _checks.integers(input_ids, "input_ids")
        _checks.rank(ids, "input_ids", 2, "[B, T]")
        B, T = ids.shape
        if self.positions is not None and T > self.positions.shape[0]:
            raise ValueError(f"input_ids: sequence length {T} exceeds the model's "
                             f"{self.positions.shape[0]} positions")
        key_padding_mask = None
        if attention_mask is not None:
            mask = _checks.integers(attention_mask, "attention_mask") if np.asarray(
                attention_mask).dtype != np.bool_ else np.asarray(attention_mask)
            if mask.shape != (B, T):
                raise ValueError(f"attention_mask: expected shape {(B, T)}, got {mask.shape}")
            key_padding_mask = np.ascontiguousarray(mask == 0)
        h = _core.embedding(ids, self.tokens, float(self.config.embedding_scale))
        extra = self._position_and_type(B, T, token_type_ids)
        if self.embed_norm is not None:
            h = self.embed_norm(h, extra)
        elif extra is not None:
            h += extra
        for layer in self.layers:
            h = layer(h, key_padding_mask)
        return self.final_norm(h) if self.final_norm is not None else h

    def _position_and_type(self, B: int, T: int, token_type_ids) -> Optional[np.ndarray]:
        extra = None
        if self.positions is not None:
            extra = np.broadcast_to(self.positions[:T], (B, T, self.config.d_model))
        if self.token_types is not None:
            if token_type_ids is None:
                types = np.broadcast_to(self.token_types[0], (B, T, self.config.d_model))
            else:
                type_ids = _checks.integers(token_type_ids, "token_type_ids")
                if type_ids.shape != (B, T):
                    raise ValueError(f"token_type_ids: expected shape {(B, T)}, got {type_ids.shape}")
                types = _core.embedding(type_ids, self.token_types, 1.0)
            extra = types if extra is None else extra + types
        return None if extra is None else np.ascontiguousarray(extra, dtype=np.float32)
