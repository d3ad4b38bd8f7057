"""The machine-peak measurements (``_core.measure_fma_gflops``, ``_core.measure_read_gbps``)
behind the benchmark's %peak figures. Sanity and argument checks only: a timing is never
asserted in a unit test."""

import math
import os

import pytest

from pytransformer import _core

MAX_THREADS = 4 * os.cpu_count()


@pytest.mark.parametrize("threads", [1, 2])
def test_fma_gflops_is_a_positive_rate(isa, threads):
    gflops = _core.measure_fma_gflops(threads, 0.02)
    assert math.isfinite(gflops) and gflops > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_read_gbps_is_a_positive_rate(isa, threads):
    # 1 MiB + 4 bytes: shares that are not a whole number of vectors, and a tail of one float.
    gbps = _core.measure_read_gbps(threads, (1 << 20) + 4, 2)
    assert math.isfinite(gbps) and gbps > 0


@pytest.mark.parametrize("threads", [0, -1, MAX_THREADS + 1])
def test_thread_counts_out_of_range_are_refused(threads):
    with pytest.raises(ValueError, match="threads"):
        _core.measure_fma_gflops(threads, 0.01)
    with pytest.raises(ValueError, match="threads"):
        _core.measure_read_gbps(threads, 1 << 20, 1)


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf, 61.0])
def test_fma_durations_out_of_range_are_refused(seconds):
    with pytest.raises(ValueError, match="seconds"):
        _core.measure_fma_gflops(1, seconds)


def test_read_sizes_and_repeats_out_of_range_are_refused():
    with pytest.raises(ValueError, match="bytes"):
        _core.measure_read_gbps(1, 4095, 1)
    with pytest.raises(ValueError, match="repeats"):
        _core.measure_read_gbps(1, 1 << 20, 0)


def test_arguments_of_the_wrong_type_are_refused():
    with pytest.raises(TypeError):
        _core.measure_fma_gflops("1", 0.01)
    with pytest.raises(TypeError):
        _core.measure_read_gbps(1, "1 MiB", 1)
