"""The benchmark manifest, checked: every case runs on every engine and the engines agree, so
what the benchmark times is what the tests check (and nothing timed is wrong).

Peer engines (PyTorch, ONNX Runtime, CTranslate2) are checked where installed and skipped where
not. Heavy cases (GPT-2 generation and prefill) run shrunk, as their ``test_size`` says: the
same op, model and code path on a smaller batch, prompt and token count. The first run prepares
the peers' model files (bench/README.md, "Peers") into the cache folder, once.
"""

import numpy as np
import pytest

from pytransformer.bench import CASES, select
from pytransformer.bench.engines import ENGINES, OURS, worker_environment

# The PyTorch engine's nn.Transformer takes its nested-tensor fast path on padded batches.
pytestmark = pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")

ADAPTERS = {}
OURS_OUTPUTS = {}
PEERS = [name for name in ENGINES if name != OURS]
# Ops the NumPy oracle does not implement (no generation, no KV cache): ours is checked against
# the other peers there, and against our own generate tests (tests/test_generate.py).
NUMPY_LACKS = {"generate_gpt2", "prefill_gpt2"}


def adapter(name):
    if name not in ADAPTERS:
        ADAPTERS[name] = ENGINES[name].adapter(1)
    return ADAPTERS[name]


def needs(case):
    """Skip a case whose inputs cannot be had here (MiniLM's package; GPT-2's weights are made
    with torch and transformers)."""
    if not case.available():
        pytest.skip(f"{case.name} needs {', '.join(case.requires)}")


def ours(case):
    if case.name not in OURS_OUTPUTS:
        inputs, params = case.test_inputs(seed=0)
        OURS_OUTPUTS[case.name] = np.asarray(getattr(adapter(OURS), case.op)(**inputs, **params)())
    return OURS_OUTPUTS[case.name]


def test_inputs_are_seeded():
    for case in CASES:
        inputs, again = case.inputs(seed=0), case.inputs(seed=0)
        assert all(np.array_equal(inputs[k], again[k]) for k in inputs), case.name


# Every (engine, case) whose engine has the case's op; ops an engine lacks are left out of the
# benchmark too (see engines.py).
PAIRS = [(engine, case) for engine in PEERS for case in CASES
         if hasattr(ENGINES[engine].adapter, case.op) and not ENGINES[engine].quantized]
QUANTIZED_PAIRS = [(engine, case) for engine in PEERS for case in CASES
                   if hasattr(ENGINES[engine].adapter, case.op) and ENGINES[engine].quantized]


def theirs_and_ours(engine, case):
    """The engine's output for the case's test inputs, and ours, of the same shape (skips when
    the engine or what the case needs is not installed)."""
    if not ENGINES[engine].available():
        pytest.skip(f"{engine} is not installed (needs {', '.join(ENGINES[engine].requires)})")
    needs(case)
    inputs, params = case.test_inputs(seed=0)
    theirs = np.asarray(getattr(adapter(engine), case.op)(**inputs, **params)())
    expected = ours(case)
    assert theirs.shape == expected.shape
    return theirs, expected


@pytest.mark.parametrize("engine, case", PAIRS, ids=[f"{e}-{c.name}" for e, c in PAIRS])
def test_engine_agrees_with_ours(engine, case):
    theirs, expected = theirs_and_ours(engine, case)
    if case.tokens:  # generated tokens: exactly the same
        np.testing.assert_array_equal(theirs, expected)
    else:
        np.testing.assert_allclose(expected, theirs, rtol=case.tol, atol=case.tol)


@pytest.mark.parametrize("engine, case", QUANTIZED_PAIRS,
                         ids=[f"{e}-{c.name}" for e, c in QUANTIZED_PAIRS])
def test_int8_engine_close_to_ours(engine, case):
    # int8 engines are held to what int8 can do: hidden states pointing the same way as ours
    # in float32 (cosine per position), generated tokens of the right shape and vocabulary.
    theirs, expected = theirs_and_ours(engine, case)
    if case.tokens:
        assert theirs.min() >= 0 and theirs.max() < 50257
    else:
        a = theirs.reshape(-1, theirs.shape[-1]).astype(np.float64)
        b = expected.reshape(-1, expected.shape[-1]).astype(np.float64)
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        # Per token of random ids (harsher than pooled sentence embeddings): a wrong model
        # or layout scores near 0.
        assert cosine.mean() > 0.98 and cosine.min() > 0.9, (cosine.mean(), cosine.min())


def test_every_int8_engine_is_marked_quantized():
    assert {e for e in ENGINES if e.endswith("_int8")} == {e for e in ENGINES if ENGINES[e].quantized}
    assert hasattr(ENGINES["pytransformer_int8"].adapter, "encode_minilm")


@pytest.mark.parametrize("case", [c for c in CASES if c.test_size], ids=lambda c: c.name)
def test_heavy_cases_shrink_for_tests(case):
    inputs, params = case.test_inputs()
    full = case.inputs()
    assert all(inputs[k].size <= full[k].size for k in full)
    assert sum(v.size for v in inputs.values()) < sum(v.size for v in full.values()) \
        or params != case.params


def test_generation_cases_count_tokens():
    for case in CASES:
        if case.op == "generate_gpt2":
            B = case.inputs()["ids"].shape[0]
            assert case.tokens == B * case.params["max_new_tokens"] and case.tol == 0


def test_ours_and_numpy_cover_every_op():
    missing = {c.op for c in CASES if not hasattr(ENGINES[OURS].adapter, c.op)}
    assert not missing, f"ours lacks {missing}"
    missing = {c.op for c in CASES if not hasattr(ENGINES["numpy"].adapter, c.op)} - NUMPY_LACKS
    assert not missing, f"numpy lacks {missing}"


def test_engines_are_listed_only_when_installed(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ctranslate2" else real(name, *a))
    assert not ENGINES["ctranslate2"].available()
    assert ENGINES[OURS].available() and ENGINES["numpy"].available()


def test_napkin_maths():
    by_name = {c.name: c for c in CASES}
    up = by_name["linear_ffn_up"]
    assert up.flops == 2 * 4096 * 384 * 1536 and up.bound == "flop"
    assert by_name["linear_decode"].bound == "memory"
    assert by_name["attention_causal_512"].flops == 4 * 12 * (512 * 513 / 2) * 64
    assert abs(by_name["gpt2_prefill_512"].flops / 1e9 - 92) < 0.5  # GPT-2 small, last logits
    assert abs(by_name["gpt2_greedy_b1"].bytes / 128 / 4 - 124.44e6) < 0.01e6  # its parameters
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


def test_cases_needing_absent_packages_are_unavailable():
    import dataclasses

    case = dataclasses.replace(CASES[0], requires=("no_such_module_for_pytransformer",))
    assert not case.available() and CASES[0].available()
    assert all(c.requires for c in CASES if c.op in ("encode_minilm",) or c.op in NUMPY_LACKS)
