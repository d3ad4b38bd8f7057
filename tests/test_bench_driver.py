"""The benchmark driver's round order (pytransformer/bench/driver.py): over a full cycle of
rounds every engine takes every position, and follows every other engine, equally often."""

from collections import Counter

import pytest

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
