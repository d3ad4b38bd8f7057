"""The benchmark driver (pytransformer/bench/driver.py): its round order (over a full cycle of
rounds every engine takes every position, and follows every other engine, equally often) and
its wait for the workers' thread pools to stop spinning before each request."""

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from pytransformer.bench import driver
from pytransformer.bench.driver import engine_order


@pytest.mark.parametrize("n", range(1, 10))
def test_engine_order_balances_positions_and_neighbours(n):
    engines = [f"engine{i}" for i in range(n)]
    rounds = n if n % 2 == 0 else 2 * n
    positions, neighbours = Counter(), Counter()
    for r in range(rounds):
        order = engine_order(engines, r)
        assert sorted(order) == sorted(engines)
        positions.update(enumerate(order))
        neighbours.update(zip(order, order[1:]))
    assert len(positions) == n * n and len(set(positions.values())) == 1
    assert len(neighbours) == n * (n - 1)  # every ordered pair of engines, each as often
    assert len(set(neighbours.values())) <= 1


def test_engine_order_changes_who_runs_before_ours():
    # The rotation it replaced kept the neighbours: ours always ran right after the same engine.
    engines = ["pytransformer", "numpy", "torch", "onnxruntime", "ctranslate2"]
    before_ours = set()
    for r in range(2 * len(engines)):
        order = engine_order(engines, r)
        at = order.index("pytransformer")
        if at > 0:
            before_ours.add(order[at - 1])
    assert before_ours == set(engines) - {"pytransformer"}


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/stat"), reason="needs /proc")
def test_wait_until_idle_outlasts_a_spinning_pool():
    # A worker whose thread pool still spins after its call: the driver must not send the next
    # request until it has stopped burning CPU.
    spinner = subprocess.Popen([sys.executable, "-c", (
        "import time\n"
        "start = time.time()\n"
        "while time.time() - start < 0.4: pass\n"
        "time.sleep(30)\n")])
    try:
        time.sleep(0.05)
        assert driver._cpu_ticks(spinner.pid) is not None
        driver.wait_until_idle([spinner.pid], most_s=10.0)
        ticks = driver._cpu_ticks(spinner.pid)
        time.sleep(0.1)
        assert driver._cpu_ticks(spinner.pid) == ticks  # idle when the wait returned
    finally:
        spinner.kill()
        spinner.wait()


def test_wait_until_idle_without_proc_entry_falls_back_to_a_pause():
    # A pid with no /proc entry (a worker that exited): a bounded pause, no error.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert driver._cpu_ticks(dead.pid) is None
    assert driver.wait_until_idle([dead.pid], most_s=0.05) >= 0.05
