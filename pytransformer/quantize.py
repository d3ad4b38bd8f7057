"""int8 quantization (``compute_type="int8"``): the scheme, and whole checkpoints in and out.

Scheme, the same for weights (once, at load or save) and activations (per call, in C++):
symmetric, one scale per row, ``scale = max|row| / 127``, ``q = round(x * (127 / max|row|))``
(round half to even, float32 arithmetic) clipped to [-127, 127]; a zero row gets scale 0 and
q = 0. A weight row is one output channel; an activation row is one token. The int8 GEMM
accumulates ``q(x) @ q(w)^T`` exactly in int32 and dequantizes with ``scale_x * scale_w``.

Only the Linear layers are quantized. Embedding lookups, LayerNorm / RMSNorm, softmax and
attention stay float32. An output projection tied to the token embedding gets an int8 copy of
the table at load (models/decoder.py); the lookups keep the float32 table, memory-mapped, so
only the rows a call reads are resident.

In a checkpoint, a quantized Linear ``<name>`` stores ``<name>.weight`` as I8 [out, in] and
``<name>.weight_scale`` as F32 [out]; the safetensors metadata says ``"quantization": "int8"``.
"""

from __future__ import annotations

import copy
from typing import Dict, Tuple

import numpy as np

SCALE_SUFFIX = ".weight_scale"


def quantize_rows(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The scheme above over the last axis of float32 ``x``: (int8 q shaped like x, float32
    scales shaped like x without its last axis)."""
    x = np.asarray(x, dtype=np.float32)
    rows = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x  # a 2-D view keeps its strides
    q = np.empty(rows.shape, np.int8)
    scales = np.empty(rows.shape[0], np.float32)
    # In blocks of rows: the float temporaries of a vocabulary-sized table would be several
    # times its size.
    block = max(1, (1 << 22) // max(1, rows.shape[1]))
    for start in range(0, rows.shape[0], block):
        q[start: start + block], scales[start: start + block] = _quantize_block(rows[start: start + block])
    return q.reshape(x.shape), scales.reshape(x.shape[:-1])


def _quantize_block(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    amax = np.abs(x).max(axis=-1) if x.shape[-1] else np.zeros(x.shape[:-1], np.float32)
    amax = amax.astype(np.float32)
    scales = amax / np.float32(127)
    safe = np.where(amax > 0, amax, np.float32(1))
    inv = np.where(amax > 0, np.float32(127) / safe, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint(x * inv[..., None]), -127, 127).astype(np.int8)
    return q, scales.astype(np.float32)


def is_linear_weight(name: str, value: np.ndarray) -> bool:
    """Whether canonical tensor ``name`` is the weight of a Linear layer (2-D ``*.weight``
    outside the embeddings)."""
    return (name.endswith(".weight") and np.ndim(value) == 2
            and not name.startswith(("embed.", "decoder_embed.")))


def is_quantized(tensors: Dict[str, np.ndarray]) -> bool:
    return any(k.endswith(SCALE_SUFFIX) for k in tensors)


def quantize_tensors(tensors: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Canonical tensors with every Linear weight quantized (already-int8 ones are kept).

    A memory-mapped checkpoint (safetensors.MappedTensors) stays one: its float32 pages are let
    go after each weight is quantized, and the model can keep releasing the pages it reads, so
    an int8 model never holds the float32 checkpoint in memory."""
    out = copy.copy(tensors)  # same type: a mapped checkpoint keeps its release_pages()
    release = getattr(tensors, "release_pages", lambda: None)
    names = [name for name, value in tensors.items()
             if is_linear_weight(name, value) and np.asarray(value).dtype != np.int8]
    # All the int8 weights share one buffer: the model packs them and drops them, and one large
    # block goes straight back to the OS, where separate arrays would leave holes in the heap
    # that the process keeps (as much memory again as the packed weights).
    buffer = np.empty(sum(tensors[name].size for name in names), np.int8)
    offset = 0
    for name in names:
        q, out[name + "_scale"] = quantize_rows(tensors[name])
        out[name] = buffer[offset: offset + q.size].reshape(q.shape)
        out[name][...] = q
        offset += q.size
        release()
    return out


def dequantize_tensors(tensors: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Canonical tensors with every int8 Linear weight turned back into float32 (q * scale)."""
    out = {}
    for name, value in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        if name + "_scale" in tensors and np.asarray(value).dtype == np.int8:
            scale = np.asarray(tensors[name + "_scale"], dtype=np.float32)
            out[name] = value.astype(np.float32) * scale[:, None]
        else:
            out[name] = value
    return out
