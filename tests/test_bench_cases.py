"""The benchmark manifest, checked: every case runs on every engine and the engines agree, so
what the benchmark times is what the tests check (and nothing timed is wrong)."""

import numpy as np
import pytest

from pytransformer.bench import CASES, select
from pytransformer.bench.engines import ENGINES, OURS, worker_environment

# The PyTorch engine's nn.Transformer takes its nested-tensor fast path on padded batches.
pytestmark = pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")

ADAPTERS = {}


def adapter(name):
    if name not in ADAPTERS:
        ADAPTERS[name] = ENGINES[name].adapter(1)
    return ADAPTERS[name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_engines_agree_on_every_case(case):
    inputs = case.inputs(seed=0)
    again = case.inputs(seed=0)
    assert all(np.array_equal(inputs[k], again[k]) for k in inputs), "inputs must be seeded"
    ours = np.asarray(getattr(adapter(OURS), case.op)(**inputs, **case.params)())
    for name in ENGINES:
        if name == OURS or not hasattr(adapter(name), case.op):
            continue
        theirs = np.asarray(getattr(adapter(name), case.op)(**inputs, **case.params)())
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(ours, theirs, rtol=case.tol, atol=case.tol)


def test_ours_and_numpy_cover_every_op():
    for name in (OURS, "numpy"):
        missing = {c.op for c in CASES if not hasattr(ENGINES[name].adapter, c.op)}
        assert not missing, f"{name} lacks {missing}"


def test_napkin_maths():
    by_name = {c.name: c for c in CASES}
    up = by_name["linear_ffn_up"]
    assert up.flops == 2 * 4096 * 384 * 1536 and up.bound == "flop"
    assert by_name["linear_decode"].bound == "memory"
    assert by_name["attention_causal_512"].flops == 4 * 12 * (512 * 513 / 2) * 64
    assert all(c.bytes > 0 and c.bound in ("flop", "memory") for c in CASES)


def test_select():
    assert select() == CASES
    quick = select(quick=True)
    assert quick and all(c.quick for c in quick)
    assert [c.name for c in select(["gelu*"], quick=True)] == ["gelu", "gelu_tanh"]
    with pytest.raises(ValueError, match="nope"):
        select(["nope"])


def test_worker_environment():
    base = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1", "OMP_NUM_THREADS": "8"}
    env, removed = worker_environment(ENGINES["numpy"], 2, base, unset_openblas_overrides=True)
    assert removed == ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
    assert "OPENBLAS_CORETYPE" not in env and base["OPENBLAS_CORETYPE"] == "Haswell"
    env, removed = worker_environment(ENGINES[OURS], 1, base, unset_openblas_overrides=True)
    assert removed == [] and env["OPENBLAS_CORETYPE"] == "Haswell"
    env, removed = worker_environment(ENGINES["numpy"], 1, base, unset_openblas_overrides=False)
    assert removed == [] and env["OPENBLAS_L2_SIZE"] == "1"
