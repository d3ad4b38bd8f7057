"""The benchmark's report side, on a small synthetic run (no worker started): figures against
the measured peaks, the chart, the progress bar. Structure only: no timing is asserted."""

import io

import pytest

from pytransformer.bench import chart, machine, report
from pytransformer.bench.progress import Progress


def synthetic_run(peak_gflops_per_core=None):
    """Two cases (one flop-bound, one a generation), two engines, 1 and 2 threads, 2 rounds."""
    cases = [
        {"name": "gemm", "shape": "[64,64]x[64,64]^T", "flops": 2e9, "bytes": 1e6,
         "bound": "flop", "tol": 1e-3, "tokens": 0},
        {"name": "greedy", "shape": "B=1 new=8", "flops": 1e9, "bytes": 4e9, "bound": "memory",
         "tol": 0.0, "tokens": 8},
    ]
    timings = [{"case": case, "threads": threads, "engine": engine, "round": r, "position": 0,
                "number": 1, "times_s": [seconds * (1 + 0.1 * r), seconds * 2]}
               for case, seconds in (("gemm", 0.02), ("greedy", 0.5))
               for threads in (1, 2) for r in range(2)
               for engine, seconds in (("pytransformer", seconds / threads), ("torch", seconds))]
    digest = {"shape": [2], "sample": [1.0, 2.0]}
    workers = {f"{engine}/{threads}": {"info": {}, "cases": {
        c["name"]: {"supported": True, "check": digest} for c in cases}}
        for engine in ("pytransformer", "torch") for threads in (1, 2)}
    return {"config": {"engines": ["pytransformer", "torch"], "threads": [1, 2],
                       "cases": ["gemm", "greedy"], "peak_gflops_per_core": peak_gflops_per_core},
            "cases": cases, "timings": timings, "workers": workers,
            "machine": {"cpu": "Test CPU", "usable_cpus": 2},
            "peaks": {"isa": "avx512", "fma_gflops": {"1": 100.0, "2": 200.0},
                      "read_gbps": {"1": 10.0, "2": 20.0},
                      "settings": {"fma_seconds": 1.0, "read_bytes": 1 << 30, "read_repeats": 3}}}


def test_percent_of_peak_is_of_the_measured_limit_that_bounds_the_case():
    rows = {(r["case"], r["threads"]): r for r in report.summarize(synthetic_run())}
    gemm = rows["gemm", 2]["engines"]["pytransformer"]
    assert gemm["peak_pct"] == pytest.approx(100 * gemm["gflops"] / 200.0)
    greedy = rows["greedy", 1]["engines"]["torch"]
    assert greedy["peak_pct"] == pytest.approx(100 * greedy["gbps"] / 10.0)
    assert greedy["tokens_per_s"] == pytest.approx(8 / (greedy["median_ms"] / 1e3))


def test_a_peak_override_replaces_the_measured_fma_peak_only():
    rows = {(r["case"], r["threads"]): r for r in report.summarize(synthetic_run(50.0))}
    gemm = rows["gemm", 2]["engines"]["pytransformer"]
    assert gemm["peak_pct"] == pytest.approx(100 * gemm["gflops"] / 100.0)
    greedy = rows["greedy", 2]["engines"]["pytransformer"]
    assert greedy["peak_pct"] == pytest.approx(100 * greedy["gbps"] / 20.0)
    assert "--peak-gflops 50" in report.peaks_line(synthetic_run(50.0))


def test_peaks_line_names_every_thread_count():
    line = report.peaks_line(synthetic_run())
    assert "100.0 GFLOP/s with 1 thread, 200.0 GFLOP/s with 2 threads" in line
    assert "10.0 GB/s with 1 thread, 20.0 GB/s with 2 threads" in line


def test_the_best_of_two_peak_measurements_counts():
    first = {"isa": "avx2", "fma_gflops": {"1": 90.0, "2": 150.0}, "read_gbps": {"1": 12.0},
             "seconds": 2.0}
    second = {"isa": "avx2", "fma_gflops": {"1": 80.0, "2": 170.0}, "read_gbps": {"1": 14.0},
              "seconds": 3.0}
    best = machine.best_of([first, second])
    assert best["fma_gflops"] == {"1": 90.0, "2": 170.0} and best["read_gbps"] == {"1": 14.0}
    assert best["isa"] == "avx2" and best["measurements"] == [first, second]
    assert "seconds" not in best


def test_chart_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "chart.png"
    chart.write_chart(synthetic_run(), str(path))
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_off_a_terminal_prints_a_line_now_and_then():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(10, stream, clock)
    for step in range(10):
        clock.now = 10.0 * step
        progress.advance(f"step {step}")
    progress.close()
    lines = stream.getvalue().splitlines()
    # The first step, then the first after 30 s and after 60 s, and the last (at 90 s).
    assert len(lines) == 4 and "\r" not in stream.getvalue()
    assert lines[0].startswith("bench: 1/10 timings (10%), 0m00s elapsed")
    assert lines[-1].startswith("bench: 10/10 timings (100%), 1m30s elapsed, ETA 0m00s")


def test_progress_on_a_terminal_redraws_one_bar_with_an_eta():
    stream, clock = Terminal(), FakeClock()
    progress = Progress(4, stream, clock)
    clock.now = 60.0
    progress.advance("first")
    assert "1/4 timings (25%), 1m00s elapsed, ETA 3m00s  first" in stream.getvalue()
    clock.now = 61.0
    progress.advance("second")
    progress.close()
    text = stream.getvalue()
    assert "[############............] 2/4 timings (50%)" in text and "second" in text
    assert "\r" in text and "\n" not in text[:-1] and text.endswith("\n")


def test_progress_without_a_stream_is_silent():
    progress = Progress(2, None)
    progress.advance()
    progress.close()


def test_each_ratio_comes_with_the_range_of_the_rounds_own_ratios():
    # synthetic_run: in round r ours takes median(s/threads * (1 + 0.1 r), 2 s/threads) and torch
    # median(s * (1 + 0.1 r), 2 s), so every round's torch / ours is exactly `threads`; shift
    # ours in round 1 to make the rounds differ.
    run = synthetic_run()
    for t in run["timings"]:
        if t["engine"] == "pytransformer" and t["round"] == 1 and t["case"] == "gemm":
            t["times_s"] = [x * 2 for x in t["times_s"]]
    rows = {(r["case"], r["threads"]): r for r in report.summarize(run)}
    ours = [0.5 * (0.01 + 0.02), 2 * 0.5 * (0.011 + 0.02)]  # round medians, 2 threads
    torch = [0.5 * (0.02 + 0.04), 0.5 * (0.022 + 0.04)]
    low, high = sorted(t / o for t, o in zip(torch, ours))
    assert rows["gemm", 2]["speedup_range"]["torch"] == pytest.approx([low, high])
    assert rows["greedy", 2]["speedup_range"]["torch"] == pytest.approx([2.0, 2.0])
    text = "\n".join(report.table(report.summarize(run), run["config"]["engines"]))
    assert f"({low:.2f}-{high:.2f})" in text and "(2.00-2.00)" in text
