"""_core.KVCache (csrc/model/kv_cache.cpp) against plain NumPy bookkeeping of the same writes:
strided k/v views (as the model passes them, out of one fused QKV projection), decode-sized
and prompt-sized writes (the latter split among threads), beam reordering, and the errors."""
import numpy as np
import pytest

import pytransformer
from pytransformer import _core

LAYERS, ROWS, HEADS, MAX_LEN, D = 2, 3, 4, 320, 64


def qkv_views(rng, n):
    """k and v [ROWS, HEADS, n, D] as strided views of one [ROWS, n, 3 * HEADS * D] array."""
    qkv = rng.standard_normal((ROWS, n, 3 * HEADS * D), dtype=np.float32)
    heads = lambda x: x.reshape(ROWS, n, HEADS, D).transpose(0, 2, 1, 3)
    return heads(qkv[..., HEADS * D:2 * HEADS * D]), heads(qkv[..., 2 * HEADS * D:])


@pytest.fixture(params=[1, 2])
def threads(request):
    previous = pytransformer.get_num_threads()
    pytransformer.set_num_threads(request.param)
    yield request.param
    pytransformer.set_num_threads(previous)


def test_writes_match_numpy(threads):
    rng = np.random.default_rng(0)
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    want_k = np.zeros((LAYERS, ROWS, HEADS, MAX_LEN, D), np.float32)
    want_v = np.zeros_like(want_k)
    start = 0
    for n in (300, 1, 1, 7):  # a prompt (written by every thread), then decode steps
        for layer in range(LAYERS):
            k, v = qkv_views(rng, n)
            cache.write(layer, k, v, start)
            want_k[layer, :, :, start:start + n] = k
            want_v[layer, :, :, start:start + n] = v
        start += n
    for layer in range(LAYERS):
        np.testing.assert_array_equal(cache.keys(layer), want_k[layer, :, :, :start])
        np.testing.assert_array_equal(cache.values(layer), want_v[layer, :, :, :start])


def test_reorder_matches_numpy_permutation():
    rng = np.random.default_rng(1)
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    n = 5
    for layer in range(LAYERS):
        cache.write(layer, *qkv_views(rng, n), 0)
    before = [(cache.keys(i).copy(), cache.values(i).copy()) for i in range(LAYERS)]
    sources = [2, 0, 1]  # a cycle: every row is overwritten while another still needs it
    cache.reorder(sources, n)
    for layer, (k, v) in enumerate(before):
        np.testing.assert_array_equal(cache.keys(layer), k[sources])
        np.testing.assert_array_equal(cache.values(layer), v[sources])


def test_views_cover_only_the_positions_written():
    """The storage is not cleared (a freed cache's keys may be in it), so keys() and values()
    stop at the positions written so far: each layer its own count, a rewrite of earlier
    positions leaves it, and the view shares the storage (the attention kernel reads it)."""
    rng = np.random.default_rng(4)
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    assert cache.keys(0).shape == cache.values(1).shape == (ROWS, HEADS, 0, D)
    k, v = qkv_views(rng, 6)
    cache.write(0, k, v, 0)
    cache.write(0, k[:, :, :2], v[:, :, :2], 1)  # a rewrite inside what is written
    assert cache.keys(0).shape == cache.values(0).shape == (ROWS, HEADS, 6, D)
    assert cache.keys(1).shape == (ROWS, HEADS, 0, D)
    want = k.copy()
    want[:, :, 1:3] = k[:, :, :2]
    np.testing.assert_array_equal(cache.keys(0), want)
    cache.write(0, k[:, :, :1], v[:, :, :1], 6)
    assert cache.keys(0).shape[2] == 7
    assert np.shares_memory(cache.keys(0), cache.keys(0)[:, :, :1])
    assert cache.keys(0).base is cache


def _address(cache):
    return cache.keys(0).__array_interface__["data"][0]


def test_freed_storage_is_reused_by_a_cache_it_fits():
    first = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    address = _address(first)
    del first
    second = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN // 2, D)  # half the size: still fits
    assert _address(second) == address
    third = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)  # while second lives: fresh storage
    assert _address(third) != address
    del second, third  # third's block is kept now, second's freed
    small = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN // 4, D)  # under half of it: not reused
    rng = np.random.default_rng(2)
    k, v = qkv_views(rng, 3)
    small.write(0, k, v, 0)  # and usable
    np.testing.assert_array_equal(small.keys(0), k)


def test_release_memory_frees_the_kept_storage():
    pytransformer.release_memory()  # whatever earlier tests left
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    nbytes = cache.nbytes
    assert pytransformer.release_memory() == 0  # nothing kept while the cache lives
    del cache
    assert pytransformer.release_memory() == nbytes
    assert pytransformer.release_memory() == 0


def test_errors_name_the_argument():
    rng = np.random.default_rng(2)
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    k, v = qkv_views(rng, 4)
    with pytest.raises(ValueError, match="layer"):
        cache.write(LAYERS, k, v, 0)
    with pytest.raises(ValueError, match="start"):
        cache.write(0, k, v, MAX_LEN - 3)
    with pytest.raises(ValueError, match="start"):  # start + n wrapped past 2^63: heap corruption
        cache.write(0, k, v, 2**63 - 1)
    with pytest.raises(ValueError, match="v"):
        cache.write(0, k, v[:, :, :3], 0)
    with pytest.raises(ValueError, match="sources"):
        cache.reorder([0, 1, ROWS], 1)
    with pytest.raises(ValueError):
        _core.KVCache(0, ROWS, HEADS, MAX_LEN, D)


def test_a_write_may_not_leave_unwritten_positions_before_it():
    """Attention reads every position before the ones just written, and the storage is not
    cleared (it may be a freed cache's): a write past the positions written so far would expose
    whatever the storage held. Rewriting earlier positions is allowed."""
    rng = np.random.default_rng(3)
    cache = _core.KVCache(LAYERS, ROWS, HEADS, MAX_LEN, D)
    k, v = qkv_views(rng, 4)
    with pytest.raises(ValueError, match=r"start: .*positions \[0, 5\) of layer 0 unwritten"):
        cache.write(0, k, v, 5)
    cache.write(0, k, v, 0)
    cache.write(0, k, v, 4)
    cache.write(0, k, v, 2)  # rewriting is fine
    with pytest.raises(ValueError, match=r"\[8, 9\) of layer 0"):
        cache.write(0, k, v, 9)
    with pytest.raises(ValueError, match="layer 1 unwritten"):  # each layer counts its own
        cache.write(1, k, v, 4)
