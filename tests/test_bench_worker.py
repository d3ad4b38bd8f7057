"""The benchmark worker's timing request (pytransformer/bench/worker.py): at least `repeat`
samples, more while they have not yet lasted `min_seconds` together, never more than
MAX_SAMPLES."""

import time

from pytransformer.bench import worker


def _worker_with_call(call, number=1, per_call=0.001):
    # Only the timing loop is under test: a Worker with one prepared call and no engine.
    w = worker.Worker.__new__(worker.Worker)
    w.calls = {"case": (call, number, per_call)}
    return w


def test_time_takes_repeat_samples_without_a_time_floor():
    calls = []
    w = _worker_with_call(lambda: calls.append(1), number=3)
    reply = w.time("case", repeat=4, min_seconds=0.0)
    assert reply["ok"] and reply["number"] == 3
    assert len(reply["times_s"]) == 4
    assert len(calls) == 1 + 4 * 3  # one untimed warm call, then 4 samples of 3 calls


def test_time_keeps_sampling_until_min_seconds():
    w = _worker_with_call(lambda: time.sleep(0.004), number=1, per_call=0.004)
    start = time.perf_counter()
    reply = w.time("case", repeat=1, min_seconds=0.06)
    elapsed = time.perf_counter() - start
    samples = reply["times_s"]
    assert sum(samples) >= 0.06 and elapsed >= 0.06
    # Each sample sleeps at least 4 ms, so no more than 0.06 / 0.004 + 1 of them are needed.
    assert 2 <= len(samples) <= 16
    assert all(t >= 0.004 for t in samples)


def test_time_stops_at_max_samples():
    w = _worker_with_call(lambda: None, number=1, per_call=1e-7)
    reply = w.time("case", repeat=1, min_seconds=30.0)
    assert len(reply["times_s"]) == worker.MAX_SAMPLES


def test_time_never_takes_fewer_than_repeat():
    w = _worker_with_call(lambda: time.sleep(0.01), number=1, per_call=0.01)
    reply = w.time("case", repeat=3, min_seconds=0.001)
    assert len(reply["times_s"]) == 3
