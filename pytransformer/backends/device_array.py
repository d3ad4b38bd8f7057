"""DeviceArray: a strided view of GPU memory, with NumPy's view semantics.

The model layer slices, reshapes and transposes its activations (a fused QKV projection read as
[B, H, T, D] heads, a KV cache read up to its length) without copying. On the GPU the same code
runs on DeviceArrays: each is a buffer (kept alive by reference), an element offset into it, a
shape and element strides, and every view operation below makes a new DeviceArray over the same
buffer exactly as NumPy would make a view — never a copy, and an error where NumPy would have to
copy. The kernels read ``ptr``, ``shape``, ``strides`` and ``dtype`` (see csrc/cuda/view.h).

The layout logic touches no device memory, so tests check it against NumPy's own views on any
machine (tests/backends/test_device_array.py).
"""

from __future__ import annotations

import operator
from typing import Tuple

ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "uint8": 1}


def contiguous_strides(shape) -> Tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class DeviceArray:
    __slots__ = ("buffer", "offset", "shape", "strides", "dtype")

    def __init__(self, buffer, shape, dtype: str = "float32", offset: int = 0, strides=None):
        """A view of ``buffer`` (any object with an int ``ptr``, e.g. ``_cuda.Buffer``) starting
        ``offset`` elements in; C-contiguous unless ``strides`` (in elements) are given."""
        if dtype not in ITEMSIZE:
            raise ValueError(f"dtype: expected one of {', '.join(ITEMSIZE)}, got {dtype!r}")
        self.buffer = buffer
        self.shape = tuple(int(s) for s in shape)
        self.strides = contiguous_strides(self.shape) if strides is None else tuple(int(s) for s in strides)
        if len(self.strides) != len(self.shape):
            raise ValueError(f"strides: expected {len(self.shape)} of them, got {len(self.strides)}")
        self.offset = int(offset)
        self.dtype = dtype

    # -- what the kernels read -------------------------------------------------------------
    @property
    def ptr(self) -> int:
        return self.buffer.ptr + self.offset * ITEMSIZE[self.dtype]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return _size(self.shape)

    @property
    def itemsize(self) -> int:
        return ITEMSIZE[self.dtype]

    @property
    def is_contiguous(self) -> bool:
        """C-contiguous (dimensions of size 1 may have any stride, as in NumPy)."""
        expected = 1
        for size, stride in zip(reversed(self.shape), reversed(self.strides)):
            if size == 0:
                return True
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d DeviceArray")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides})"

    def _view(self, shape, strides, offset) -> "DeviceArray":
        return DeviceArray(self.buffer, shape, self.dtype, offset, strides)

    # -- views ------------------------------------------------------------------------------
    def __getitem__(self, key) -> "DeviceArray":
        """Basic indexing only: ints, slices (any step), ``...`` and ``None``. Index arrays
        (NumPy's fancy indexing, which copies) raise TypeError."""
        if not isinstance(key, tuple):
            key = (key,)
        consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
        if sum(1 for k in key if k is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        if consumed > self.ndim:
            raise IndexError(f"too many indices: array is {self.ndim}-dimensional, "
                             f"{consumed} were indexed")
        shape, strides, offset, dim = [], [], self.offset, 0
        for k in key:
            if k is Ellipsis:
                for _ in range(self.ndim - consumed):
                    shape.append(self.shape[dim])
                    strides.append(self.strides[dim])
                    dim += 1
            elif k is None:
                shape.append(1)
                strides.append(0)
            elif isinstance(k, slice):
                start, stop, step = k.indices(self.shape[dim])
                length = len(range(start, stop, step))
                offset += (start * self.strides[dim]) if length else 0
                shape.append(length)
                strides.append(self.strides[dim] * step)
                dim += 1
            else:
                try:
                    index = operator.index(k)
                except TypeError:
                    raise TypeError(f"DeviceArray supports ints, slices, ... and None as "
                                    f"indices (views only), got {type(k).__name__}") from None
                size = self.shape[dim]
                if not -size <= index < size:
                    raise IndexError(f"index {index} is out of bounds for axis {dim} with size {size}")
                offset += (index % size) * self.strides[dim]
                dim += 1
        shape.extend(self.shape[dim:])
        strides.extend(self.strides[dim:])
        return self._view(shape, strides, offset)

    def transpose(self, *axes) -> "DeviceArray":
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        axes = tuple(a % self.ndim if -self.ndim <= a < self.ndim else a for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"axes: {axes} is not a permutation of the {self.ndim} axes")
        return self._view([self.shape[a] for a in axes], [self.strides[a] for a in axes], self.offset)

    @property
    def T(self) -> "DeviceArray":
        return self.transpose()

    def reshape(self, *shape) -> "DeviceArray":
        """A view of a new shape (one dimension may be -1), as NumPy's ``reshape(copy=False)``:
        ValueError when the strides cannot express it without a copy (use ``contiguous``)."""
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        shape = [operator.index(s) for s in shape]
        if shape.count(-1) > 1:
            raise ValueError("can only specify one unknown dimension")
        if -1 in shape:
            known = _size(s for s in shape if s != -1)
            if known == 0 or self.size % known:
                raise ValueError(f"cannot reshape array of size {self.size} into shape {tuple(shape)}")
            shape[shape.index(-1)] = self.size // known
        if _size(shape) != self.size:
            raise ValueError(f"cannot reshape array of size {self.size} into shape {tuple(shape)}")
        strides = _reshape_strides(self.shape, self.strides, shape)
        if strides is None:
            raise ValueError(f"cannot reshape a {self.shape} view with strides {self.strides} "
                             f"into {tuple(shape)} without a copy")
        return self._view(shape, strides, self.offset)

    def broadcast_to(self, shape) -> "DeviceArray":
        """A read-only-in-spirit view repeated along new or size-1 axes (stride 0)."""
        shape = tuple(int(s) for s in shape)
        if len(shape) < self.ndim:
            raise ValueError(f"cannot broadcast {self.shape} to {shape}")
        lead = len(shape) - self.ndim
        strides = [0] * lead
        for size, own, stride in zip(shape[lead:], self.shape, self.strides):
            if own == size:
                strides.append(stride)
            elif own == 1:
                strides.append(0)
            else:
                raise ValueError(f"cannot broadcast {self.shape} to {shape}")
        return self._view(shape, strides, self.offset)


def _reshape_strides(old_shape, old_strides, new_shape):
    """Strides giving a view of new_shape over old_shape/old_strides, or None if none exists:
    NumPy's no-copy reshape rule. Size-1 axes are dropped first; then runs of old axes that are
    contiguous with each other are matched with runs of new axes of the same total size."""
    if _size(new_shape) == 0:
        return contiguous_strides(new_shape)
    old = [(s, st) for s, st in zip(old_shape, old_strides) if s != 1]
    new_strides = [0] * len(new_shape)
    new_axes = [i for i, s in enumerate(new_shape) if s != 1]
    oi = ni = 0
    while oi < len(old) and ni < len(new_axes):
        # Grow the smallest group of old axes [oi, oj) and new axes [ni, nj) of equal size.
        oj, nj = oi + 1, ni + 1
        old_size, new_size = old[oi][0], new_shape[new_axes[ni]]
        while old_size != new_size:
            if old_size < new_size:
                old_size *= old[oj][0]
                oj += 1
            else:
                new_size *= new_shape[new_axes[nj]]
                nj += 1
        # The old group must be one strided run: each axis steps over the next one whole.
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                return None
        step = old[oj - 1][1]
        for k in reversed(range(ni, nj)):
            new_strides[new_axes[k]] = step
            step *= new_shape[new_axes[k]]
        oi, ni = oj, nj
    # Size-1 new axes: any stride works; use the one a C-contiguous layout would have.
    for i, s in enumerate(new_shape):
        if s == 1:
            following = [new_strides[j] * new_shape[j] for j in range(i + 1, len(new_shape))
                         if new_shape[j] != 1]
            new_strides[i] = following[0] if following else 1
    return tuple(new_strides)
