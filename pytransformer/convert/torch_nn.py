"""Export PyTorch's ``torch.nn`` Transformers to our format: ``pytransformer.export_torch``.

Supported modules and what they become:

* ``nn.Transformer``                          -> kind ``"encoder-decoder"``
* ``nn.TransformerEncoder``                   -> kind ``"encoder"`` (``encode`` gives the hidden states)
* ``nn.TransformerEncoder`` with ``causal=True`` -> kind ``"decoder"``: a decoder-only language
  model (the usual way to build a GPT with torch.nn: encoder layers run with a causal mask);
  its layers become ``decoder.{i}.self_attn`` / ``ffn`` without cross-attention.
* ``nn.TransformerDecoder`` together with ``encoder=`` (an ``nn.TransformerEncoder``)
  -> kind ``"encoder-decoder"``, the same model as ``nn.Transformer(custom_encoder=encoder,
  custom_decoder=decoder)``. An ``nn.TransformerDecoder`` alone is rejected: every one of its
  layers cross-attends to a ``memory`` that only the caller knows how to make, so it has no
  self-contained meaning as a model of token ids.

``nn.Transformer`` holds only the layers; the caller supplies the rest of the 2017 paper's model:
token embedding(s), positions, the embedding scale, the output projection and the pad id.
``batch_first`` only changes how torch is called and is not exported (our API is batch-first).

torch is imported lazily, inside :func:`export_torch`, so ``import pytransformer`` never needs it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..config import ModelConfig

POSITIONS = ("sinusoidal", "learned", "none")
SUPPORTED_ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
SUPPORTED_MODULES = ("nn.Transformer", "nn.TransformerEncoder",
                     "nn.TransformerDecoder (with encoder=)")


def export_torch(module, path, *, embedding, target_embedding=None,
                 positions: str = "sinusoidal", position_table=None, target_position_table=None,
                 max_positions: Optional[int] = None, embedding_scale: float = 1.0,
                 output_projection=None, output_bias=None, pad_token_id: Optional[int] = None,
                 encoder=None, causal: bool = False) -> ModelConfig:
    """Write a ``torch.nn`` Transformer, with the embeddings and head it lacks, as our format.

    module: ``nn.Transformer``, ``nn.TransformerEncoder``, or ``nn.TransformerDecoder`` (then
        ``encoder`` is required). In eval mode or not: dropout is simply not exported.
    path: the folder to write (config.json + model.safetensors); load it with
        ``pytransformer.load(path)``.
    embedding: the (source) token embedding, an ``nn.Embedding`` or an array [vocab, d_model].
    target_embedding: encoder-decoders only: the decoder's token embedding when it differs from
        the source one (default: shared). Both must have the same vocabulary size.
    positions: ``"sinusoidal"`` (the 2017 paper's table, sin on even and cos on odd features,
        computed by pytransformer itself), ``"learned"`` (``position_table`` required) or
        ``"none"``. Position ids are 0..T-1, added after the token embedding is scaled.
    position_table: learned positions, an ``nn.Embedding`` or array [max_positions, d_model].
    target_position_table: encoder-decoders with learned positions: the decoder's own table
        (default: shared with the encoder).
    max_positions: longest sequence for sinusoidal positions (default 1024); for learned ones it
        is the table's length.
    embedding_scale: multiplies the token embedding (the paper: ``math.sqrt(d_model)``).
    output_projection: encoder-decoders and ``causal=True`` only: an ``nn.Linear`` or array
        [vocab, d_model] producing the logits; default: tied to the (target) token embedding.
    output_bias: array [vocab], the logits bias (taken from ``output_projection`` when it is an
        ``nn.Linear`` with a bias; giving both is an error).
    pad_token_id: recorded in the config.
    encoder: with an ``nn.TransformerDecoder``, the ``nn.TransformerEncoder`` whose output is
        its memory.
    causal: with an ``nn.TransformerEncoder``, export it as a decoder-only language model
        (its layers run with a causal mask; ``model.forward`` gives logits).

    Layers: post-LN or pre-LN (``norm_first``), activation relu, gelu or gelu with
    ``approximate="tanh"`` (string, ``F.relu`` / ``F.gelu``, or ``nn.ReLU`` / ``nn.GELU``),
    with or without biases (``bias=False``), any ``layer_norm_eps``; the stacks' final
    ``norm`` (``nn.LayerNorm``) when present. Returns the written :class:`ModelConfig`.

    ``nn.GELU(approximate="tanh")`` is exported as the tanh approximation it declares; note that
    PyTorch's own eval-mode fast path computes exact gelu for any ``nn.GELU`` (its eval and
    training-mode outputs then differ by ~1e-4), so compare such a model with its slow path.

    Raises TypeError for a module of an unsupported type and ValueError for a configuration
    our format cannot express (the message says what is supported).
    """
    import torch
    from torch import nn

    from ..weights import save

    if isinstance(module, nn.Transformer):
        enc, dec = module.encoder, module.decoder
        if not isinstance(enc, nn.TransformerEncoder) or not isinstance(dec, nn.TransformerDecoder):
            raise TypeError(f"module: nn.Transformer with custom_encoder "
                            f"{type(enc).__name__} / custom_decoder {type(dec).__name__} is not "
                            "supported; supported: nn.TransformerEncoder / nn.TransformerDecoder")
        if encoder is not None:
            raise ValueError("encoder: only for an nn.TransformerDecoder; nn.Transformer has its own")
    elif isinstance(module, nn.TransformerDecoder):
        if encoder is None:
            raise ValueError("module: an nn.TransformerDecoder alone has no self-contained "
                             "meaning (each layer cross-attends to a memory); pass the "
                             "nn.TransformerEncoder producing that memory as encoder=, or "
                             "export an nn.TransformerEncoder with causal=True for a "
                             "decoder-only language model")
        if not isinstance(encoder, nn.TransformerEncoder):
            raise TypeError(f"encoder: expected an nn.TransformerEncoder, got "
                            f"{type(encoder).__name__}")
        enc, dec = encoder, module
    elif isinstance(module, nn.TransformerEncoder):
        if encoder is not None:
            raise ValueError("encoder: only for an nn.TransformerDecoder")
        enc, dec = module, None
    else:
        raise TypeError(f"module: {type(module).__module__}.{type(module).__qualname__} is not "
                        f"supported; supported: {', '.join(SUPPORTED_MODULES)}")
    if causal and dec is not None:
        raise ValueError("causal: only for an nn.TransformerEncoder (exported as a decoder-only "
                         "model); encoder-decoders' decoders are always causal")
    seq2seq = dec is not None
    has_head = seq2seq or causal
    if not has_head and (output_projection is not None or output_bias is not None):
        raise ValueError("output_projection / output_bias: an encoder has no output projection "
                         "(use causal=True for a decoder-only language model)")
    if not seq2seq and (target_embedding is not None or target_position_table is not None):
        raise ValueError("target_embedding / target_position_table: only for encoder-decoders")

    def array(value, name: str) -> np.ndarray:
        if isinstance(value, (nn.Embedding, nn.Linear)):
            value = value.weight
        if isinstance(value, torch.Tensor):
            value = value.detach().to(device="cpu", dtype=torch.float32).numpy()
        return np.array(value, dtype=np.float32)  # a copy: the caller's tensors stay untouched

    layers = list(enc.layers) + (list(dec.layers) if seq2seq else [])
    for i, layer in enumerate(enc.layers):
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"module: encoder layer {i} is a {type(layer).__name__}; supported: "
                            "nn.TransformerEncoderLayer")
    if seq2seq:
        for i, layer in enumerate(dec.layers):
            if not isinstance(layer, nn.TransformerDecoderLayer):
                raise TypeError(f"module: decoder layer {i} is a {type(layer).__name__}; "
                                "supported: nn.TransformerDecoderLayer")
    if not layers:
        raise ValueError("module: has no layers")

    first = layers[0].self_attn
    E, H = first.embed_dim, first.num_heads
    F = layers[0].linear1.out_features
    activation = _activation(layers[0].activation, "layer 0")
    norm_first = bool(layers[0].norm_first)
    eps = float(layers[0].norm1.eps)
    attention_bias = first.in_proj_bias is not None
    ffn_bias = layers[0].linear1.bias is not None

    def agree(what: str, found: Any, expected: Any, where: str) -> None:
        if found != expected:
            raise ValueError(f"module: {where} has {what} {found!r} but layer 0 has {expected!r}; "
                             f"our format needs one {what} for all layers")

    attentions: List[Tuple[str, Any]] = []
    for i, layer in enumerate(layers):
        where = f"layer {i}"
        agree("norm_first", bool(layer.norm_first), norm_first, where)
        agree("activation", _activation(layer.activation, where), activation, where)
        agree("dim_feedforward", layer.linear1.out_features, F, where)
        agree("ffn bias", layer.linear1.bias is not None, ffn_bias, where)
        agree("ffn bias", layer.linear2.bias is not None, ffn_bias, where)
        attentions.append((where + ".self_attn", layer.self_attn))
        if isinstance(layer, nn.TransformerDecoderLayer):
            attentions.append((where + ".multihead_attn", layer.multihead_attn))
    for where, attn in attentions:
        agree("d_model", attn.embed_dim, E, where)
        agree("nhead", attn.num_heads, H, where)
        agree("attention bias", attn.in_proj_bias is not None, attention_bias, where)
        agree("attention bias", attn.out_proj.bias is not None, attention_bias, where)
        if not attn._qkv_same_embed_dim:
            raise ValueError(f"module: {where} has kdim/vdim != embed_dim; not supported")
        if attn.bias_k is not None or attn.add_zero_attn:
            raise ValueError(f"module: {where} uses add_bias_kv / add_zero_attn; not supported")

    # Norms: every LayerNorm of the layers and the stacks' final norms share one eps.
    final_norms = {"encoder": enc.norm, **({"decoder": dec.norm} if seq2seq else {})}
    norms = [(f"layer {i}.{n}", getattr(layer, n)) for i, layer in enumerate(layers)
             for n in ("norm1", "norm2", "norm3") if hasattr(layer, n)]
    norms += [(f"{stack}.norm", norm) for stack, norm in final_norms.items() if norm is not None]
    for where, norm in norms:
        if not isinstance(norm, nn.LayerNorm) or tuple(norm.normalized_shape) != (E,):
            raise ValueError(f"module: {where} is {norm!r}; supported: nn.LayerNorm(d_model)")
        agree("layer_norm_eps", float(norm.eps), eps, where)
    has_final = {stack: norm is not None for stack, norm in final_norms.items()}
    if len(set(has_final.values())) > 1:
        raise ValueError(f"module: the encoder {'has' if has_final['encoder'] else 'lacks'} a "
                         f"final norm but the decoder {'has' if has_final['decoder'] else 'lacks'}"
                         " one; our format has one final_norm flag for both stacks")
    final_norm = has_final["encoder"]

    # Embeddings, positions and head.
    tokens = array(embedding, "embedding")
    _check_2d(tokens, "embedding", E)
    vocab = tokens.shape[0]
    out: Dict[str, np.ndarray] = {"embed.tokens": tokens}
    if target_embedding is not None:
        target_tokens = array(target_embedding, "target_embedding")
        _check_2d(target_tokens, "target_embedding", E)
        if target_tokens.shape[0] != vocab:
            raise ValueError(f"target_embedding: vocabulary {target_tokens.shape[0]} differs from "
                             f"embedding's {vocab}; our format has one vocab_size")
        out["decoder_embed.tokens"] = target_tokens
    if positions not in POSITIONS:
        raise ValueError(f"positions: {positions!r} is not supported; supported: "
                         f"{', '.join(POSITIONS)}")
    if positions == "learned":
        if position_table is None:
            raise ValueError('positions: "learned" needs position_table')
        table = array(position_table, "position_table")
        _check_2d(table, "position_table", E)
        if max_positions is not None and max_positions != table.shape[0]:
            raise ValueError(f"max_positions: {max_positions} differs from position_table's "
                             f"{table.shape[0]} rows")
        max_positions = table.shape[0]
        out["embed.positions"] = table
        if target_position_table is not None:
            target_table = array(target_position_table, "target_position_table")
            if target_table.shape != table.shape:
                raise ValueError(f"target_position_table: expected shape {table.shape}, got "
                                 f"{target_table.shape}")
            out["decoder_embed.positions"] = target_table
    elif position_table is not None or target_position_table is not None:
        raise ValueError(f"position_table: only with positions=\"learned\", got {positions!r}")
    if max_positions is None:
        max_positions = 1024
    if has_head:
        bias = None
        if isinstance(output_projection, nn.Linear):
            if output_projection.bias is not None:
                bias = array(output_projection.bias, "output_projection.bias")
        if output_projection is not None:
            head = array(output_projection, "output_projection")
            _check_2d(head, "output_projection", E)
            if head.shape[0] != vocab:
                raise ValueError(f"output_projection: vocabulary {head.shape[0]} differs from the "
                                 f"embedding's {vocab}")
            out["lm_head.weight"] = head
        if output_bias is not None:
            if bias is not None:
                raise ValueError("output_bias: output_projection already has a bias")
            bias = array(output_bias, "output_bias")
        if bias is not None:
            if bias.shape != (vocab,):
                raise ValueError(f"output_bias: expected shape ({vocab},), got {bias.shape}")
            out["lm_head.bias"] = bias

    # Layers.
    def linear(name: str, weight, bias) -> None:
        out[name + ".weight"] = array(weight, name)
        if bias is not None:
            out[name + ".bias"] = array(bias, name)

    def norm(name: str, ln) -> None:
        out[name + ".weight"] = (array(ln.weight, name) if ln.weight is not None
                                 else np.ones(E, dtype=np.float32))
        if ln.bias is not None:
            out[name + ".bias"] = array(ln.bias, name)

    def self_attention(name: str, attn) -> None:  # in_proj: q, k, v rows stacked = our qkv
        linear(name + ".qkv", attn.in_proj_weight, attn.in_proj_bias)
        linear(name + ".out", attn.out_proj.weight, attn.out_proj.bias)

    def ffn(name: str, layer) -> None:
        linear(name + ".up", layer.linear1.weight, layer.linear1.bias)
        linear(name + ".down", layer.linear2.weight, layer.linear2.bias)

    stack = "decoder" if causal else "encoder"
    for i, layer in enumerate(enc.layers):
        ours = f"{stack}.{i}"
        self_attention(ours + (".self_attn" if causal else ".attn"), layer.self_attn)
        norm(ours + (".self_attn_norm" if causal else ".attn_norm"), layer.norm1)
        ffn(ours + ".ffn", layer)
        norm(ours + ".ffn_norm", layer.norm2)
    if final_norm:
        norm(f"{stack}.final_norm", enc.norm)
    if seq2seq:
        for i, layer in enumerate(dec.layers):
            ours = f"decoder.{i}"
            self_attention(ours + ".self_attn", layer.self_attn)
            norm(ours + ".self_attn_norm", layer.norm1)
            cross = layer.multihead_attn
            w = cross.in_proj_weight
            b = cross.in_proj_bias
            linear(ours + ".cross_attn.q", w[:E], None if b is None else b[:E])
            linear(ours + ".cross_attn.kv", w[E:], None if b is None else b[E:])
            linear(ours + ".cross_attn.out", cross.out_proj.weight, cross.out_proj.bias)
            norm(ours + ".cross_attn_norm", layer.norm2)
            ffn(ours + ".ffn", layer)
            norm(ours + ".ffn_norm", layer.norm3)
        if final_norm:
            norm("decoder.final_norm", dec.norm)

    num_enc = len(enc.layers)
    num_dec = len(dec.layers) if seq2seq else None
    config = ModelConfig(
        kind="encoder-decoder" if seq2seq else ("decoder" if causal else "encoder"),
        num_layers=num_enc, num_decoder_layers=num_dec if num_dec != num_enc else None,
        d_model=E, num_heads=H, ffn_dim=F, vocab_size=vocab, norm="layer_norm",
        norm_position="pre" if norm_first else "post", norm_eps=eps, activation=activation,
        positions=positions, max_positions=int(max_positions),
        embedding_scale=float(embedding_scale), final_norm=final_norm,
        attention_bias=attention_bias, ffn_bias=ffn_bias,
        tie_word_embeddings=has_head and "lm_head.weight" not in out,
        final_logits_bias="lm_head.bias" in out, pad_token_id=pad_token_id,
    )
    save(config, out, path)
    return config


def _check_2d(value: np.ndarray, name: str, d_model: int) -> None:
    if value.ndim != 2 or value.shape[1] != d_model:
        raise ValueError(f"{name}: expected shape [N, {d_model}] (d_model={d_model}), got "
                         f"{list(value.shape)}")


def _activation(activation, where: str) -> str:
    """Our name for a layer's ``activation``: a string, a torch function or an nn module."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    if isinstance(activation, str):
        if activation in ("relu", "gelu"):
            return activation
    elif activation is F.relu or activation is torch.relu:
        return "relu"
    elif activation is F.gelu:
        return "gelu"
    elif type(activation) is nn.ReLU:
        return "relu"
    elif type(activation) is nn.GELU and activation.approximate in ("none", "tanh"):
        return "gelu" if activation.approximate == "none" else "gelu_tanh"
    raise ValueError(f"module: {where} has activation {activation!r}; supported: relu, gelu "
                     "(as a string, F.relu / F.gelu, or nn.ReLU() / nn.GELU(), also "
                     "nn.GELU(approximate='tanh'))")
