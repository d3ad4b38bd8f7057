"""One dataclass that describes every supported architecture by its choices, not its name.

A BERT, the 2017 paper's Transformer, GPT-2 or LLaMA are each a point in this space: which
stack (encoder / decoder / both), where the norm sits (post-LN as in the paper and BERT, pre-LN
as in GPT-2 and LLaMA), which norm, activation and positions, and a few flags. The model layer
reads only this, never a model_type string.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict, List, Optional

KINDS = ("encoder", "decoder", "encoder-decoder")
NORMS = ("layer_norm", "rms_norm")
NORM_POSITIONS = ("post", "pre")
ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu", "geglu_tanh")
# The gated feed-forwards, act(x W_gate) * (x W_up), and the activation of their gate.
GATED_ACTIVATIONS = {"swiglu": "silu", "geglu": "gelu", "geglu_tanh": "gelu_tanh"}
GATED_BY_GATE = {gate: gated for gated, gate in GATED_ACTIVATIONS.items()}
POSITIONS = ("learned", "sinusoidal", "rotary", "none")
CLASSIFIER_ACTIVATIONS = ("tanh", "relu", "gelu")
# The int fields and their least value (None: any int); those defaulting to None may be None.
INT_FIELDS = {"num_layers": 1, "d_model": 1, "num_heads": 1, "ffn_dim": 1, "vocab_size": 1,
              "num_kv_heads": 1, "num_decoder_layers": 1, "max_positions": 1,
              "type_vocab_size": 0, "pad_token_id": None, "sliding_window": 1,
              "attention_head_dim": 1, "relative_buckets": 4, "relative_max_distance": 1,
              "num_labels": 0, "rotary_dim": 2}


def check_int(value, name: str, minimum: Optional[int] = 1) -> int:
    """``value``, an int (not a bool) >= minimum (0, 1 or None for any), else a ValueError
    naming it: configs are data read from files (converters name config.json's fields)."""
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        expected = {None: "an int", 0: "a non-negative int", 1: "a positive int"}.get(
            minimum, f"an int >= {minimum}")
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return value


@dataclasses.dataclass
class ModelConfig:
    kind: str
    num_layers: int
    d_model: int
    num_heads: int
    ffn_dim: int
    vocab_size: int
    num_kv_heads: Optional[int] = None  # grouped-query attention; None = num_heads
    # Width of each attention head; None = d_model / num_heads (T5 and Gemma may differ).
    attention_head_dim: Optional[int] = None
    # The attention scores' scale; None = 1 / sqrt(head_dim) (T5: 1, folded into its weights).
    attention_scale: Optional[float] = None
    # Each query and key head normalised (config.norm) over its head_dim features before the
    # rotary positions (Qwen3).
    qk_norm: bool = False
    num_decoder_layers: Optional[int] = None  # encoder-decoder only; None = num_layers
    norm: str = "layer_norm"
    norm_position: str = "post"
    norm_eps: float = 1e-5
    activation: str = "relu"
    positions: str = "learned"
    max_positions: int = 512
    rope_base: float = 10000.0
    # Rotary positions on the first rotary_dim features of each head only, the others passed
    # through (GPT-NeoX's rotary_pct, Phi's partial_rotary_factor); None = all of head_dim.
    rotary_dim: Optional[int] = None
    # Every self-attention adds a learned bias per head, by the bucket of the distance between
    # key and query (T5, with positions "none"; MPNet, on top of learned positions): how many
    # buckets, and the distance from which they all share the last one.
    relative_position_bias: bool = False
    relative_buckets: int = 32
    relative_max_distance: int = 128
    embedding_scale: float = 1.0  # sqrt(d_model) in the 2017 paper and Marian
    type_vocab_size: int = 0  # token type (segment) embeddings, BERT: 2
    embedding_norm: bool = False  # a norm right after the embeddings (BERT)
    # A token's position counts only the real tokens before it in its sequence (RoBERTa, and
    # OPT's forward), rather than its column in the padded batch (BERT, GPT-2).
    positions_skip_padding: bool = False
    final_norm: bool = False  # a norm after the last layer (pre-LN models)
    # Encoders: a sequence classification head on the first token (BERT's pooler and
    # classifier, RoBERTa's classifier...): dense [E, E], classifier_activation, then
    # num_labels outputs; 0 = no head.
    num_labels: int = 0
    classifier_activation: str = "tanh"
    attention_bias: bool = True
    ffn_bias: bool = True
    tie_word_embeddings: bool = True  # decoders: the output projection is the token embedding
    final_logits_bias: bool = False
    pad_token_id: Optional[int] = None
    # Decoder self-attention through a sliding window (Mistral): a token sees only the
    # sliding_window positions ending at itself. sliding_window_layers lists the decoder layers
    # that use it (Qwen2 from max_window_layers on); None = every decoder layer.
    sliding_window: Optional[int] = None
    sliding_window_layers: Optional[List[int]] = None
    # Decoder layers whose attention and feed-forward both read the layer's input,
    # x + attn(norm1(x)) + ffn(norm2(x)) (GPT-NeoX's use_parallel_residual; Phi, whose two
    # norms are one), rather than the feed-forward reading x + attn(norm1(x)). Pre-norm only.
    parallel_residual: bool = False

    def __post_init__(self) -> None:
        self.validate()

    @property
    def head_dim(self) -> int:
        return self.attention_head_dim or self.d_model // self.num_heads

    @property
    def score_scale(self) -> float:
        """What attention multiplies q k^T by."""
        if self.attention_scale is None:
            return 1.0 / math.sqrt(self.head_dim)
        return float(self.attention_scale)

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    def validate(self) -> None:
        for field, allowed in (("kind", KINDS), ("norm", NORMS), ("norm_position", NORM_POSITIONS),
                               ("activation", ACTIVATIONS), ("positions", POSITIONS),
                               ("classifier_activation", CLASSIFIER_ACTIVATIONS)):
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(f"config.{field}: {value!r} is not supported; supported: "
                                 f"{', '.join(allowed)}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in INT_FIELDS and not (value is None and field.default is None):
                check_int(value, f"config.{field.name}", INT_FIELDS[field.name])
        for field in ("norm_eps", "rope_base", "embedding_scale", "attention_scale"):
            value = getattr(self, field)
            if value is None and field == "attention_scale":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"config.{field}: expected a finite number, got {value!r}")
        if self.norm_eps < 0:
            raise ValueError(f"config.norm_eps: expected a non-negative number, got {self.norm_eps!r}")
        if self.rope_base <= 0:
            raise ValueError(f"config.rope_base: expected a positive number, got {self.rope_base!r}")
        if self.attention_head_dim is None and self.d_model % self.num_heads:
            raise ValueError(f"config: num_heads={self.num_heads} does not divide "
                             f"d_model={self.d_model} (give attention_head_dim)")
        if self.num_heads % self.kv_heads:
            raise ValueError(f"config: num_kv_heads={self.kv_heads} does not divide "
                             f"num_heads={self.num_heads}")
        if self.positions == "rotary" and self.rotary_dim is None and self.head_dim % 2:
            raise ValueError(f"config: rotary positions need an even head_dim, got {self.head_dim}")
        if self.rotary_dim is not None:
            if self.positions != "rotary":
                raise ValueError(f"config.rotary_dim: given with positions={self.positions!r}; "
                                 f"only rotary positions have it")
            if self.rotary_dim % 2 or self.rotary_dim > self.head_dim:
                raise ValueError(f"config.rotary_dim: expected an even number of features up to "
                                 f"head_dim={self.head_dim}, got {self.rotary_dim}")
        if not isinstance(self.parallel_residual, bool):
            raise ValueError(f"config.parallel_residual: expected a bool, got "
                             f"{self.parallel_residual!r}")
        if self.parallel_residual and (self.kind != "decoder" or self.norm_position != "pre"):
            raise ValueError("config.parallel_residual: only pre-norm decoder-only models "
                             "(kind='decoder', norm_position='pre') have it, got "
                             f"kind={self.kind!r}, norm_position={self.norm_position!r}")
        if self.relative_max_distance <= self.relative_buckets // 2:
            raise ValueError(f"config.relative_max_distance: expected more than half of "
                             f"relative_buckets={self.relative_buckets} (the exact buckets), got "
                             f"{self.relative_max_distance}")
        if self.num_labels and self.kind != "encoder":
            raise ValueError("config.num_labels: only encoders have a classification head")
        if self.sliding_window is not None and self.kind == "encoder":
            raise ValueError("config.sliding_window: an encoder attends both ways; only decoder "
                             "self-attention has a sliding window")
        if self.sliding_window_layers is not None:
            layers = self.sliding_window_layers
            count = self.decoder_layers
            if self.sliding_window is None:
                raise ValueError("config.sliding_window_layers: given without sliding_window")
            if not isinstance(layers, list) or any(
                    isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count for i in layers):
                raise ValueError(f"config.sliding_window_layers: expected a list of decoder layer "
                                 f"indices in [0, {count}), got {layers!r}")

    @property
    def decoder_layers(self) -> int:
        """How many decoder layers the model has (0 for an encoder)."""
        if self.kind == "encoder":
            return 0
        if self.kind == "encoder-decoder":
            return self.num_decoder_layers or self.num_layers
        return self.num_layers

    def sliding_window_of(self, layer: int) -> int:
        """The sliding window of decoder layer ``layer``'s self-attention, 0 for none."""
        if self.sliding_window is None:
            return 0
        if self.sliding_window_layers is not None and layer not in self.sliding_window_layers:
            return 0
        return self.sliding_window

    def to_dict(self) -> Dict[str, Any]:
        return {"format": "pytransformer", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"format"})
        if unknown:
            raise ValueError(f"config: unknown fields {unknown}; known: {sorted(known)}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in data)
        if missing:
            raise ValueError(f"config: missing required fields {missing}")
        return cls(**{k: v for k, v in data.items() if k != "format"})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

