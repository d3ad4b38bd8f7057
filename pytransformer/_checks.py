"""Argument conversion at the Python boundary, shared by the public API.

The rules (documented in README "Input rules"):
- Float inputs may be any real floating dtype; float16/float64 are converted to float32, which is
  what every kernel computes in. Integer, bool, complex and object arrays raise TypeError.
- Token ids and positions may be any integer dtype (converted to int64); anything else raises
  TypeError.
- Masks must be bool arrays.
- Non-contiguous arrays are accepted and copied to C order.
"""

from __future__ import annotations

import math

import numpy as np

_INT64_MAX = np.iinfo(np.int64).max


def _asarray(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise TypeError(f"{name}: expected an array, got {type(value).__name__} ({error})") from None


def floats(value, name: str) -> np.ndarray:
    """``value`` as a C-contiguous float32 array."""
    array = _asarray(value, name)
    if array.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point array, got dtype {array.dtype}")
    return np.asarray(array, dtype=np.float32, order="C")  # not ascontiguousarray: it makes 0-d 1-D


def optional_floats(value, name: str):
    return None if value is None else floats(value, name)


def integers(value, name: str) -> np.ndarray:
    """``value`` as a C-contiguous int64 array."""
    array = _asarray(value, name)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer array, got dtype {array.dtype}")
    if array.dtype == np.uint64 and array.size and array.max() > _INT64_MAX:  # would wrap negative
        raise ValueError(f"{name}: value {array.max()} exceeds the int64 range (at most {_INT64_MAX})")
    return np.asarray(array, dtype=np.int64, order="C")


def mask(value, name: str) -> np.ndarray:
    array = _asarray(value, name)
    if array.dtype != np.bool_:
        raise TypeError(f"{name}: expected a bool array, got dtype {array.dtype}")
    return np.asarray(array, order="C")


def rank(array: np.ndarray, name: str, expected: int, layout: str) -> None:
    if array.ndim != expected:
        raise ValueError(f"{name}: expected a {expected}-D array {layout}, got shape {array.shape}")


def integer(value, name: str, minimum: int) -> int:
    """``value`` as an int >= minimum (0 or 1): TypeError for other types (bools included),
    ValueError below minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected a {'positive' if minimum else 'non-negative'} int, "
                         f"got {value}")
    return int(value)


def boolean(value, name: str) -> bool:
    """``value`` as a bool: TypeError for anything else (the string "false" is not False)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__}")
    return bool(value)


def positive_int(value, name: str) -> int:
    return integer(value, name, 1)


def real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    return float(value)


def finite(value, name: str) -> float:
    """A real number that is neither NaN nor infinite."""
    value = real(value, name)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return value
