"""The ``pytransformer`` command, run as a user would: ``python -m pytransformer ...`` in a
subprocess from the repository root. Structure only: a timing is never asserted here."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pytransformer

ROOT = Path(__file__).resolve().parents[1]
# One sample per request (no time floor): the tiny run stays short and its JSON predictable.
TINY = ["--quick", "--rounds", "1", "--repeat", "1", "--request-seconds", "0", "--threads", "1",
        "--cases", "layer_norm,linear_decode"]


def run_cli(*args, env=None, timeout=60):
    environment = dict(os.environ if env is None else env)
    return subprocess.run([sys.executable, "-m", "pytransformer", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def test_info_prints_the_isa():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    assert f"isa             {pytransformer.cpu_isa()}" in result.stdout
    assert pytransformer.__version__ in result.stdout
    assert "supported isas" in result.stdout and "threads" in result.stdout
    assert f"int8 kernel     {pytransformer._core.int8_kernel()}" in result.stdout


def test_no_command_prints_help():
    result = run_cli()
    assert result.returncode == 2
    assert "bench" in result.stdout and "info" in result.stdout


def test_bench_list_and_unknown_case():
    listed = run_cli("bench", "--list")
    assert listed.returncode == 0, listed.stderr
    assert "linear_ffn_up" in listed.stdout and "attention_causal_512" in listed.stdout
    unknown = run_cli("bench", "--cases", "no_such_case")
    assert unknown.returncode == 2
    assert "no_such_case" in unknown.stderr


def _table(stdout):
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("case "))
    return lines[start], [line for line in lines[start + 2:] if line and not line.startswith("ms:")]


def test_bench_quick_prints_header_table_and_json(tmp_path):
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    env.pop("OPENBLAS_L2_SIZE", None)
    out = tmp_path / "bench.json"
    result = run_cli("bench", *TINY, "--json", str(out), env=env)
    assert result.returncode == 0, result.stderr
    for key in ("date", "cpu", "peaks", "ours", "numpy", "openblas", "method"):
        assert any(line.startswith(key + " ") for line in result.stdout.splitlines()), key
    assert "OPENBLAS_CORETYPE=Haswell" in result.stdout and "kept" in result.stdout
    header, rows = _table(result.stdout)
    for column in ("ours ms", "numpy ms", "numpy/ours", "ours rate", "%peak", "check"):
        assert column in header
    assert [row.split()[0] for row in rows] == ["linear_decode", "layer_norm"]
    assert all(row.split()[-1] == "ok" for row in rows)

    saved = json.loads(out.read_text())
    engines = {(t["engine"], t["case"]) for t in saved["timings"]}
    assert engines == {(e, c) for e in ("pytransformer", "numpy")
                       for c in ("linear_decode", "layer_norm")}
    assert all(len(t["times_s"]) == 1 and t["times_s"][0] > 0 and t["loadavg"] >= 0
               for t in saved["timings"])
    assert saved["workers"]["numpy/1"]["info"]["env"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert saved["workers"]["numpy/1"]["info"]["pytransformer_imported"] is False
    assert {row["case"] for row in saved["summary"]} == {"linear_decode", "layer_norm"}
    assert saved["machine"]["cpu"] and saved["machine"]["usable_cpus"] >= 1
    for figure in ("fma_gflops", "read_gbps"):
        assert set(saved["peaks"][figure]) == {"1"} and saved["peaks"][figure]["1"] > 0
    assert len(saved["peaks"]["measurements"]) == 2  # at the start and at the end
    # %peak of a memory-bound row is of the measured read bandwidth.
    decode = next(r for r in saved["summary"] if r["case"] == "linear_decode")["engines"]
    ours = decode["pytransformer"]
    assert ours["peak_pct"] == pytest.approx(100 * ours["gbps"] / saved["peaks"]["read_gbps"]["1"])

    # The saved run renders again without running anything, chart included.
    chart = tmp_path / "bench.png"
    args = ["bench", "--from-json", str(out)]
    if importlib.util.find_spec("matplotlib") is not None:
        args += ["--chart", str(chart)]
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert _table(again.stdout) == _table(result.stdout)
    if "--chart" in args:
        assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    missing = run_cli("bench", "--from-json", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and "none.json" in missing.stderr
    older = tmp_path / "older.json"  # a result saved before the peaks were measured
    older.write_text(json.dumps({k: v for k, v in saved.items() if k != "peaks"}))
    stale = run_cli("bench", "--from-json", str(older))
    assert stale.returncode == 2 and "has no peaks" in stale.stderr, stale.stderr


def test_bench_peak_override_sets_percent_of_peak(tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", *TINY[:-1], "linear_ffn_up", "--peak-gflops", "50",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "--peak-gflops 50" in result.stdout
    saved = json.loads(out.read_text())
    ours = saved["summary"][0]["engines"]["pytransformer"]
    assert ours["peak_pct"] == pytest.approx(ours["gflops"] / 50 * 100)


def test_bench_unsets_openblas_overrides_for_numpy_only(tmp_path):
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="1048576")
    out = tmp_path / "bench.json"
    result = run_cli("bench", *TINY[:-1], "linear_decode", "--unset-openblas-overrides",
                     "--json", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "removed for numpy: OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE" in result.stdout
    workers = json.loads(out.read_text())["workers"]
    assert workers["numpy/1"]["info"]["env"]["OPENBLAS_CORETYPE"] is None
    assert workers["numpy/1"]["info"]["env"]["OPENBLAS_L2_SIZE"] is None
    assert workers["pytransformer/1"]["info"]["env"]["OPENBLAS_CORETYPE"] == "Haswell"


@pytest.mark.parametrize("argument", ["--threads=0", "--threads=a", "--engines=torchx",
                                      "--peak-gflops=0"])
def test_bench_rejects_bad_arguments(argument):
    result = run_cli("bench", argument, "--cases", "layer_norm")
    assert result.returncode == 2


def test_translate_uses_the_bundled_model():
    pytest.importorskip("tokenizers")
    result = run_cli("translate", "three hundred and forty-two thousand and seven",
                     "nineteen thousand", "--num-beams", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["342007", "19000"]


def test_generate_reports_a_missing_model_clearly(tmp_path):
    result = run_cli("generate", "--model", str(tmp_path / "nowhere"), "hello")
    assert result.returncode == 2
    assert "pytransformer generate:" in result.stderr and "nowhere" in result.stderr


def test_bench_markdown_table():
    result = run_cli("bench", *TINY, "--markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| case |"))
    assert lines[start + 1].startswith("| --- |")
    rows = [line for line in lines[start + 2:] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == ["linear_decode", "layer_norm"]
    assert lines[start + 2 + len(rows)] == ""  # the table ends before the footnote


def test_bench_chart_without_matplotlib_fails_before_running(tmp_path):
    hidden = tmp_path / "hide" / "matplotlib"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    env = dict(os.environ, PYTHONPATH=str(hidden.parent))
    result = run_cli("bench", *TINY, "--chart", str(tmp_path / "bench.png"), env=env)
    assert result.returncode == 2
    assert "--chart needs matplotlib: pip install matplotlib" in result.stderr
    assert "measuring" not in result.stderr and not (tmp_path / "bench.png").exists()
