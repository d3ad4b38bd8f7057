"""Read and write the safetensors format without torch or the safetensors package.

A file is: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header),
then the raw little-endian tensor data. Reading memory-maps the file: a tensor is a read-only
view into the map, so nothing is copied until a kernel packs it, and nothing is unpickled.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from typing import Dict, Mapping

import numpy as np

# safetensors dtype names -> NumPy dtypes ("BF16" is read as raw 16-bit words, see _as_numpy).
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<f2"): "F16",
          np.dtype("<i8"): "I64", np.dtype("<i4"): "I32", np.dtype("<i2"): "I16",
          np.dtype("i1"): "I8", np.dtype("u1"): "U8", np.dtype("?"): "BOOL"}
_MAX_HEADER = 100 * 1024 * 1024


class MappedTensors(dict):
    """Tensors (name -> array) that are views of memory-mapped files. ``release_pages()`` lets
    the kernel drop the pages read so far from this process's resident memory: a model calls it
    after packing each layer, so loading never holds the file and the packed weights in full at
    once. The views stay valid; reading one again faults its pages back in from the file."""

    def __init__(self, tensors=(), mappings=()):
        super().__init__(tensors)
        self.mappings = list(mappings)

    def release_pages(self) -> None:
        for mapping in self.mappings:
            if hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                mapping.madvise(mmap.MADV_DONTNEED)


class SafetensorsError(ValueError):
    """The file is not a valid safetensors file (truncated, corrupt, or inconsistent)."""


def _bf16_to_f32(words: np.ndarray) -> np.ndarray:
    # bfloat16 is the top half of a float32: shift the bits back into place.
    return (words.astype(np.uint32) << 16).view(np.float32)


def load(path: str | os.PathLike) -> MappedTensors:
    """All tensors of a safetensors file, as read-only arrays over a memory map (BF16 tensors
    are converted to float32, which copies them)."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size < 8:
        raise SafetensorsError(f"{path}: {size} bytes is too short for a safetensors file")
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > min(size - 8, _MAX_HEADER):
            raise SafetensorsError(f"{path}: header length {header_len} exceeds the file "
                                   f"({size} bytes): truncated or not safetensors")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SafetensorsError(f"{path}: the header is not valid JSON ({error})") from None
        except RecursionError:
            raise SafetensorsError(f"{path}: the header is JSON nested too deeply to be a "
                                   "safetensors header") from None
        if not isinstance(header, dict):
            raise SafetensorsError(f"{path}: the header is not a JSON object")
        data_start = 8 + header_len
        data_len = size - data_start
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    tensors = MappedTensors(mappings=[buffer] if isinstance(buffer, mmap.mmap) else [])
    for name, info in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(path, name, info, buffer, data_start, data_len)
    return tensors


def _tensor(path, name, info, buffer, data_start, data_len) -> np.ndarray:
    try:
        dtype = _DTYPES[info["dtype"]]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise SafetensorsError(f"{path}: tensor {name!r} has a malformed entry {info!r}") from None
    if any(d < 0 for d in shape):
        raise SafetensorsError(f"{path}: tensor {name!r} has a negative dimension {shape}")
    count = int(np.prod(shape, dtype=np.int64))
    if not 0 <= begin <= end <= data_len or end - begin != count * dtype.itemsize:
        raise SafetensorsError(
            f"{path}: tensor {name!r} ({info['dtype']} {list(shape)}) claims bytes "
            f"[{begin}, {end}) of a {data_len}-byte data section: truncated or corrupt")
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=data_start + begin).reshape(shape)
    return _bf16_to_f32(array) if info["dtype"] == "BF16" else array


def save(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
         metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (name -> array) to ``path`` in safetensors format, C order, 8-byte
    aligned like the reference implementation."""
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name], order="C")  # (ascontiguousarray would make 0-d 1-D)
        if array.dtype.newbyteorder("<") not in _NAMES and array.dtype not in _NAMES:
            raise TypeError(f"tensors[{name!r}]: dtype {array.dtype} cannot be stored in safetensors")
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-(8 + len(blob)) % 8)
    tmp = os.fspath(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for array in arrays:
            f.write(array.tobytes())
    os.replace(tmp, path)
