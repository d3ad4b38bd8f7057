"""A stand-in for the ``pytransformer._cuda`` extension, made of host memory and the NumPy
reference, with the same Python API (csrc/cuda/module.cpp).

It lets the CUDA backend's Python half (pytransformer/backends/cuda.py: DeviceArray views,
uploads, the KV cache, the model wiring) run on a machine with no GPU, against the CPU path as
the oracle. It says nothing about the CUDA kernels themselves: tests/test_cuda.py runs those
on a real GPU.
"""

from __future__ import annotations

import importlib.machinery
import types

import numpy as np

from pytransformer import reference

_DTYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "uint8": np.uint8}


class Buffer:
    """Host memory whose address plays the device pointer."""

    def __init__(self, nbytes: int):
        self.memory = np.zeros(max(int(nbytes), 1), dtype=np.uint8)
        self.ptr = self.memory.ctypes.data
        self.nbytes = int(nbytes)


def _array(view) -> np.ndarray:
    """The NumPy view addressing exactly what a DeviceArray view addresses."""
    dtype = np.dtype(_DTYPES.get(view.dtype, np.uint16))  # bfloat16: raw 16-bit words
    interface = {"data": (view.ptr, False), "shape": tuple(view.shape), "typestr": dtype.str,
                 "strides": tuple(s * dtype.itemsize for s in view.strides), "version": 3}
    holder = types.SimpleNamespace(__array_interface__=interface)
    return np.asarray(holder)


_ACTIVATIONS = {0: lambda x: x, 1: reference.relu, 2: reference.gelu,
                3: lambda x: reference.gelu(x, "tanh"), 4: reference.silu}


class Linear:
    def __init__(self, weight, bias):
        self.weight = _array(weight).astype(np.float32)
        self.bias = None if bias is None else _array(bias)

    def forward(self, out, x, activation, residual):
        y = _ACTIVATIONS[activation](reference.linear(_array(x), self.weight, self.bias))
        if residual is not None:
            y = y + _array(residual)
        _array(out)[...] = y


def _attention(out, q, k, v, key_padding_mask, causal, bias, scale, q_offsets, k_offsets,
               sliding_window=0):
    q, k, v, o = _array(q), _array(k), _array(v), _array(out)
    mask = None if key_padding_mask is None else _array(key_padding_mask).astype(bool)
    bias = None if bias is None else _array(bias)
    if q_offsets is None and k_offsets is None:
        o[...] = reference.scaled_dot_product_attention(q, k, v, key_padding_mask=mask,
                                                        causal=causal, attn_bias=bias, scale=scale,
                                                        sliding_window=sliding_window)
        return
    qo = None if q_offsets is None else _array(q_offsets)
    ko = None if k_offsets is None else _array(k_offsets)
    for b in range(len(qo if qo is not None else ko) - 1):
        qs = slice(qo[b], qo[b + 1]) if qo is not None else slice(None)
        ks = slice(ko[b], ko[b + 1]) if ko is not None else slice(None)
        qb, ob = (0, 0) if qo is not None else (b, b)
        kb = 0 if ko is not None else b
        # A packed sequence's bias: the top-left corner of its slice (see ops/attention.h).
        nq, nk = q[qb, :, qs].shape[1], k[kb, :, ks].shape[1]
        o[ob, :, qs] = reference.scaled_dot_product_attention(
            q[qb:qb + 1, :, qs], k[kb:kb + 1, :, ks], v[kb:kb + 1, :, ks], causal=causal,
            attn_bias=None if bias is None else bias[b:b + 1, :, :nq, :nk], scale=scale,
            sliding_window=sliding_window)[0]


def _rms_norm(out, x, weight, eps, residual):
    _array(out)[...] = reference.rms_norm(_array(x), _array(weight), eps,
                                          None if residual is None else _array(residual))


def _layer_norm(out, x, weight, bias, eps, residual):
    _array(out)[...] = reference.layer_norm(_array(x), _array(weight),
                                            None if bias is None else _array(bias), eps,
                                            None if residual is None else _array(residual))


def _convert(dst, src):
    if dst.dtype != "float16":
        raise ValueError("the fake converts to float16 only")
    _array(dst)[...] = _array(src)


def _copy_to_host(src, dst):
    dst[...] = _array(src)


def _assign(dst, value):
    _array(dst)[...] = value


def module() -> types.ModuleType:
    fake = types.ModuleType("pytransformer._cuda")
    fake.__spec__ = importlib.machinery.ModuleSpec("pytransformer._cuda", None)
    fake.device_count = lambda: 1
    fake.runtime_error = lambda: ""
    fake.set_device = lambda index: None
    fake.Buffer = Buffer
    fake.Linear = Linear
    fake.copy_from_host = lambda dst, src: _assign(dst, src)
    fake.copy_to_host = _copy_to_host
    fake.copy = lambda dst, src: _assign(dst, _array(src))
    fake.convert = _convert
    fake.gather_rows = lambda dst, src, index: _assign(dst, _array(src)[_array(index)])
    fake.add = lambda dst, a, b: _assign(dst, _array(a) + _array(b))
    fake.layer_norm = _layer_norm
    fake.rms_norm = _rms_norm
    fake.gated_activation = lambda out, gate, up, act: _assign(
        out, _ACTIVATIONS[act](_array(gate)) * _array(up))
    fake.embedding = lambda out, ids, table, scale: _assign(
        out, reference.embedding(_array(ids), _array(table)) * np.float32(scale))
    fake.rotary = lambda out, x, positions, base, rotary_dim=0: _assign(
        out, reference.rotary_embedding(_array(x), _array(positions), base, rotary_dim or None))
    fake.attention = _attention
    return fake
