"""DeviceArray's views against NumPy's: for every view operation, the view must address exactly
the elements NumPy's view of the same array addresses (its layout logic touches no device
memory, so it is checked here on any machine)."""

import itertools

import numpy as np
import pytest

from pytransformer.backends.device_array import DeviceArray


class FakeBuffer:
    ptr = 4096


def addresses(array: DeviceArray) -> np.ndarray:
    """The element index (into the buffer) of every element of the view, in C order."""
    index = np.full(array.shape, array.offset, dtype=np.int64)
    for axis, (size, stride) in enumerate(zip(array.shape, array.strides)):
        shape = [1] * array.ndim
        shape[axis] = size
        index = index + (np.arange(size) * stride).reshape(shape)
    return index


def pair(shape):
    """A NumPy array whose values are their own buffer indices, and the DeviceArray twin."""
    size = int(np.prod(shape))
    return np.arange(size).reshape(shape), DeviceArray(FakeBuffer(), shape)


def check(ours: DeviceArray, theirs: np.ndarray):
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(addresses(ours), theirs)
    assert ours.is_contiguous == theirs.flags.c_contiguous


KEYS = [
    (slice(None), slice(None), slice(2, 5)),
    (Ellipsis, slice(0, 4)),
    (Ellipsis, slice(4, None)),
    (1,),
    (-1, Ellipsis, 3),
    (slice(None), -1),
    (slice(None, None, 2), slice(None, None, -1)),
    (None, slice(1, 2)),
    (slice(None), None, 0, slice(1, None, 3)),
    (slice(5, 1),),
    (Ellipsis,),
]


@pytest.mark.parametrize("key", KEYS)
def test_getitem_views_the_elements_numpy_does(key):
    theirs, ours = pair((3, 4, 6))
    check(ours[key], theirs[key])


def test_heads_view_of_a_qkv_column_slice():
    # What the attention layer does: [B, T, 3*H*D] -> q columns -> [B, H, T, D] heads.
    B, T, H, D = 2, 5, 3, 4
    theirs, ours = pair((B, T, 3 * H * D))
    for start in (0, H * D, 2 * H * D):
        n = theirs[..., start:start + H * D].reshape(B, T, H, D).transpose(0, 2, 1, 3)
        o = ours[..., start:start + H * D].reshape(B, T, H, D).transpose(0, 2, 1, 3)
        check(o, n)


@pytest.mark.parametrize("shape,new", [
    ((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (2, 12)), ((2, 3, 4), (2, 3, 2, 2)),
    ((2, 3, 4), (1, 24, 1)), ((6,), (2, 1, 3)), ((0, 3), (3, 0)),
])
def test_reshape_of_contiguous_arrays(shape, new):
    theirs, ours = pair(shape)
    check(ours.reshape(new), theirs.reshape(new))


@pytest.mark.parametrize("view,new", [
    (lambda a: a[:, 1:3], (4, 2, 2, 3)),      # a column slice splits its last axis
    (lambda a: a[:, :, 1:2], (4, 3)),         # a size-1 axis drops out
    (lambda a: a[1:3], (2 * 3 * 6,)),         # a row slice stays contiguous
    (lambda a: a.transpose(1, 0, 2), (3, 4, 2, 3)),
    (lambda a: a[:, -1:], (4, 6)),            # the decoder's last position
])
def test_reshape_of_views_matches_numpy_without_copy(view, new):
    theirs, ours = pair((4, 3, 6))
    expected = np.reshape(view(theirs), new, copy=False)
    check(view(ours).reshape(new), expected)


@pytest.mark.parametrize("view,new", [
    (lambda a: a.transpose(1, 0, 2), (12, 6)),
    (lambda a: a[:, 1:3], (8, 6)),
    (lambda a: a[:, ::2], (48,)),
])
def test_reshape_that_needs_a_copy_raises_like_numpy(view, new):
    theirs, ours = pair((4, 3, 6))
    with pytest.raises(ValueError):
        np.reshape(view(theirs), new, copy=False)
    with pytest.raises(ValueError, match="without a copy"):
        view(ours).reshape(new)


def test_every_transpose_of_a_3d_view():
    theirs, ours = pair((2, 3, 4))
    for axes in itertools.permutations(range(3)):
        check(ours[:, 1:].transpose(axes), theirs[:, 1:].transpose(axes))
    check(ours.T, theirs.T)
    with pytest.raises(ValueError, match="permutation"):
        ours.transpose(0, 0, 1)


@pytest.mark.parametrize("source,shape", [((4,), (2, 3, 4)), ((1, 4), (3, 4)), ((3, 1), (3, 5))])
def test_broadcast_to_matches_numpy(source, shape):
    theirs, ours = pair(source)
    check(ours.broadcast_to(shape), np.broadcast_to(theirs, shape))
    with pytest.raises(ValueError, match="cannot broadcast"):
        ours.broadcast_to((7,) + tuple(s + 1 for s in source))


def test_pointer_and_sizes():
    _, ours = pair((2, 3, 4))
    view = ours[1, :, 2:]
    assert view.ptr == FakeBuffer.ptr + (12 + 2) * 4
    assert (view.size, view.ndim, len(view), view.itemsize) == (6, 2, 3, 4)
    assert DeviceArray(FakeBuffer(), (3,), "int64")[2].ptr == FakeBuffer.ptr + 16


def test_bad_indices_and_dtypes_raise_clear_errors():
    _, ours = pair((2, 3))
    with pytest.raises(IndexError, match="out of bounds"):
        ours[2]
    with pytest.raises(IndexError, match="too many indices"):
        ours[0, 0, 0]
    with pytest.raises(TypeError, match="views only"):
        ours[np.array([0, 1])]
    with pytest.raises(ValueError, match="cannot reshape"):
        ours.reshape(4, 2)
    with pytest.raises(ValueError, match="dtype"):
        DeviceArray(FakeBuffer(), (2,), "float64")
