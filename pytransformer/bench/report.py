"""From raw timings to figures: medians over rounds, ratios, napkin maths, the environment
header and the table. Reads only the dictionary ``driver.run`` returns (or its JSON)."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from typing import Dict, List

from .engines import ENGINES, OPENBLAS_OVERRIDES, OURS


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarize(result: dict) -> List[dict]:
    """One row per (case, threads): per engine the median over rounds of each round's median
    sample, the fastest sample, the ratio to ours and the napkin maths."""
    cases = {c["name"]: c for c in result["cases"]}
    peak_per_core = result["config"]["peak_gflops_per_core"]
    per_round: Dict[tuple, Dict[str, List[float]]] = {}
    fastest: Dict[tuple, Dict[str, float]] = {}
    for t in result["timings"]:
        key = (t["case"], t["threads"])
        per_round.setdefault(key, {}).setdefault(t["engine"], []).append(statistics.median(t["times_s"]))
        best = fastest.setdefault(key, {})
        best[t["engine"]] = min(best.get(t["engine"], float("inf")), min(t["times_s"]))
    rows = []
    for name in result["config"]["cases"]:
        for threads in result["config"]["threads"]:
            key, case = (name, threads), cases[name]
            row = {"case": name, "shape": case["shape"], "threads": threads,
                   "bound": case["bound"], "tokens": case.get("tokens", 0), "engines": {}}
            for engine, rounds in per_round.get(key, {}).items():
                median = statistics.median(rounds)
                row["engines"][engine] = {
                    "median_ms": 1e3 * median, "min_ms": 1e3 * fastest[key][engine],
                    "rounds": len(rounds), "gflops": case["flops"] / median / 1e9,
                    "gbps": case["bytes"] / median / 1e9,
                    "peak_pct": 100 * case["flops"] / median / 1e9 / (peak_per_core * threads),
                    "tokens_per_s": case.get("tokens", 0) / median}
            ours = row["engines"].get(OURS)
            row["speedup"] = {e: v["median_ms"] / ours["median_ms"]
                              for e, v in row["engines"].items() if ours and e != OURS}
            row["check"] = check(result, name, threads, case.get("tol", 1e-3))
            rows.append(row)
    return rows


def check(result: dict, case: str, threads: int, tol: float) -> str:
    """Do the other engines' outputs agree with ours (shape, and the sampled values within
    ``tol``, relative to 1 + |value|)? "ok", "-" if nothing to compare, else what differs.
    Quantized engines are left out: their accuracy is measured by bench/bench_int8.py."""
    setups = {key.split("/")[0]: w["cases"].get(case, {}) for key, w in result["workers"].items()
              if key.endswith(f"/{threads}")}
    errors = [f"{e}: error" for e, s in setups.items() if "error" in s]
    if errors:
        return "; ".join(errors)
    ours = setups.get(OURS, {}).get("check")
    others = [(e, s["check"]) for e, s in setups.items()
              if e != OURS and "check" in s and not ENGINES[e].quantized]
    if ours is None or not others:
        return "-"
    problems = []
    for engine, theirs in others:
        if theirs["shape"] != ours["shape"]:
            problems.append(f"{engine}: shape {theirs['shape']}")
            continue
        worst = max((abs(a - b) / (1 + abs(b)) for a, b in zip(ours["sample"], theirs["sample"])),
                    default=0.0)
        if not worst <= tol:  # also catches NaN
            problems.append(f"{engine}: diff {worst:.1e}")
    return "; ".join(problems) or "ok"


def environment(result: dict) -> List[str]:
    """The header: when, where, which kernels and BLAS, which overrides, which method."""
    config, workers = result["config"], result["workers"]
    info = {key.split("/")[0]: w["info"] for key, w in workers.items()}
    when = datetime.datetime.fromtimestamp(result["started"]).astimezone()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = result["loadavg"]
    lines = [
        f"date       {when.isoformat(timespec='seconds')}  (python {platform.python_version()}, "
        f"{platform.system()} {platform.release()})",
        f"cpu        {cpu_model()}; {os.cpu_count()} logical CPUs, {cpus} usable; load average "
        f"{load['before'][0]:.2f} before, {load['after'][0]:.2f} after",
    ]
    if OURS in info:
        ours = info[OURS]
        threads = _per_worker(workers, OURS, lambda i: i["num_threads"])
        lines.append(f"ours       pytransformer {ours['version']}, ISA {ours['isa']} (supported: "
                     f"{', '.join(ours['supported_isas'])}), {ours['path']}; threads {threads}")
    if "numpy" in info:
        threads = _per_worker(workers, "numpy", lambda i: ",".join(
            str(p.get("num_threads")) for p in i["threadpools"] if p.get("user_api") == "blas"))
        lines.append(f"numpy      {info['numpy']['numpy']}; BLAS "
                     f"{_blas(info['numpy']['threadpools'])}; BLAS threads {threads}")
    peers = [f"{name} {info[name].get(name)} (threads "
             f"{_per_worker(workers, name, lambda i: i.get('threads'))})"
             for name in ("torch", "onnxruntime", "ctranslate2") if name in info]
    if peers:
        lines.append("peers      " + "; ".join(peers))
    lines.append("openblas   " + _overrides(result["openblas_overrides"]))
    lines.append(f"method     {len(config['threads'])} thread counts x {config['rounds']} rounds x "
                 f"{config['repeat']} samples (>= {config['min_sample_s'] * 1e3:g} ms each); a "
                 f"worker process per engine and thread count; engines alternate within each "
                 f"round; figures are medians over rounds")
    lines.append(f"peak       {config['peak_gflops_per_core']:g} GFLOP/s per core (--peak-gflops)")
    return lines


def _per_worker(workers: dict, engine: str, figure) -> str:
    """``figure(info)`` for each worker of ``engine``: "1 in numpy/1, 2 in numpy/2"."""
    return ", ".join(f"{figure(w['info'])} in {key}" for key, w in workers.items()
                     if key.split("/")[0] == engine)


def _blas(pools: List[dict]) -> str:
    blas = [p for p in pools if p.get("user_api") == "blas"]
    if not blas:
        notes = [p["note"] for p in pools if "note" in p]
        return notes[0] if notes else "none loaded"
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} (kernel "
                     f"{p.get('architecture')}, {p.get('threading_layer')})" for p in blas)


def _overrides(overrides: dict) -> str:
    values = overrides["driver_env"]
    given = ", ".join(f"{k}={v}" if v is not None else f"{k} not set" for k, v in values.items())
    removable = [k for k in OPENBLAS_OVERRIDES if values.get(k) is not None]
    if not overrides["unset_requested"]:
        action = ("kept (pass --unset-openblas-overrides to remove them for numpy)"
                  if removable else "nothing to remove")
    else:
        removed = sorted({v for names in overrides["removed"].values() for v in names})
        action = f"removed for numpy: {', '.join(removed) or 'none were set'}"
    return f"{given}; {action}"


def _rate(row: dict, figures: dict) -> str:
    if row.get("tokens"):  # generation: tokens generated per second (B x new tokens / time)
        return f"{figures['tokens_per_s']:.1f} tok/s"
    if row["bound"] == "flop":
        return f"{figures['gflops']:.1f} GFLOP/s"
    return f"{figures['gbps']:.1f} GB/s"


def table(rows: List[dict], engines: List[str], markdown: bool = False) -> List[str]:
    """case | shape | threads | per engine median (min) ms | speed-ups | our rate, %peak |
    others' rates | check. Aligned text, or a Markdown table (for a README) when markdown."""
    others = [e for e in engines if e != OURS]
    label = {e: ENGINES[e].label for e in engines}
    header = ["case", "shape", "thr"] + [f"{label[e]} ms" for e in engines] \
        + [f"{label[e]}/ours" for e in others] + ["ours rate", "%peak"] \
        + [f"{label[e]} rate" for e in others] + ["check"]
    body = []
    for row in rows:
        figures = row["engines"]
        cells = [row["case"], row["shape"], str(row["threads"])]
        cells += [f"{figures[e]['median_ms']:.3f} ({figures[e]['min_ms']:.3f})" if e in figures
                  else "-" for e in engines]
        cells += [f"{row['speedup'][e]:.2f}x" if e in row["speedup"] else "-" for e in others]
        ours = figures.get(OURS)
        cells.append(_rate(row, ours) if ours else "-")
        cells.append(f"{ours['peak_pct']:.0f}%" if ours and row["bound"] == "flop" else "")
        cells += [_rate(row, figures[e]) if e in figures else "-" for e in others]
        cells.append(row["check"])
        body.append(cells)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    right = {0, 1, len(header) - 1}  # text columns align left, numbers right

    def line(cells):
        if markdown:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        return "  ".join(c.ljust(w) if i in right else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = ["---"] * len(widths) if markdown else ["-" * w for w in widths]
    gap = [""] if markdown else []  # a Markdown table ends at a blank line
    return [line(header), line(rule)] + [line(r) for r in body] + gap + [
        "ms: median over rounds (fastest sample in brackets); x/ours: x median / ours median, "
        ">1 means ours is faster; rate: useful GFLOP/s (flop-bound) or minimum GB/s moved "
        "(memory-bound) or generated tokens/s (generation); %peak: of threads x the per-core peak"]


def render(result: dict, markdown: bool = False) -> str:
    rows = summarize(result)
    lines = environment(result) + [""] + table(rows, result["config"]["engines"], markdown)
    return "\n".join(lines)
