"""From raw timings to figures: medians over rounds, ratios, napkin maths, the environment
header and the table. Reads only the dictionary ``driver.run`` returns (or its JSON)."""

from __future__ import annotations

import datetime
import statistics
from typing import Dict, List

from .engines import ENGINES, OPENBLAS_OVERRIDES, OURS


def fma_peak_gflops(result: dict, threads: int) -> float:
    """The arithmetic limit with ``threads`` threads: --peak-gflops x threads when given, else
    the measured FMA throughput."""
    override = result["config"].get("peak_gflops_per_core")
    return override * threads if override else result["peaks"]["fma_gflops"][str(threads)]


def read_peak_gbps(result: dict, threads: int) -> float:
    """The memory limit with ``threads`` threads: the measured streaming read bandwidth."""
    return result["peaks"]["read_gbps"][str(threads)]


def summarize(result: dict) -> List[dict]:
    """One row per (case, threads): per engine the median over rounds of each round's median
    sample, the fastest sample, the ratio to ours and the napkin maths. Beside each ratio, the
    lowest and highest of the rounds' own ratios (an engine's round median over ours in the same
    round, timed back to back), so a reader sees how much the machine moved it."""
    cases = {c["name"]: c for c in result["cases"]}
    # (case, threads) -> engine -> round -> that round's median sample (one timing per round)
    by_round: Dict[tuple, Dict[str, Dict[int, float]]] = {}
    fastest: Dict[tuple, Dict[str, float]] = {}
    for t in result["timings"]:
        key = (t["case"], t["threads"])
        by_round.setdefault(key, {}).setdefault(t["engine"], {})[t["round"]] = \
            statistics.median(t["times_s"])
        best = fastest.setdefault(key, {})
        best[t["engine"]] = min(best.get(t["engine"], float("inf")), min(t["times_s"]))
    rows = []
    for name in result["config"]["cases"]:
        for threads in result["config"]["threads"]:
            key, case = (name, threads), cases[name]
            fma_peak, read_peak = fma_peak_gflops(result, threads), read_peak_gbps(result, threads)
            row = {"case": name, "shape": case["shape"], "threads": threads,
                   "bound": case["bound"], "tokens": case.get("tokens", 0), "engines": {}}
            for engine, rounds in by_round.get(key, {}).items():
                median = statistics.median(rounds.values())
                gflops, gbps = case["flops"] / median / 1e9, case["bytes"] / median / 1e9
                row["engines"][engine] = {
                    "median_ms": 1e3 * median, "min_ms": 1e3 * fastest[key][engine],
                    "rounds": len(rounds), "gflops": gflops, "gbps": gbps,
                    "fma_peak_pct": 100 * gflops / fma_peak,
                    "read_peak_pct": 100 * gbps / read_peak,
                    # Of the limit that bounds the case: the FMA peak or the read bandwidth.
                    "peak_pct": 100 * (gflops / fma_peak if case["bound"] == "flop"
                                       else gbps / read_peak),
                    "tokens_per_s": case.get("tokens", 0) / median}
            ours = row["engines"].get(OURS)
            row["speedup"] = {e: v["median_ms"] / ours["median_ms"]
                              for e, v in row["engines"].items() if ours and e != OURS}
            row["speedup_range"] = {e: _round_ratio_range(by_round[key], e)
                                    for e in row["speedup"]}
            row["check"] = check(result, name, threads, case.get("tol", 1e-3))
            rows.append(row)
    return rows


def _round_ratio_range(rounds: Dict[str, Dict[int, float]], engine: str) -> List[float]:
    """[lowest, highest] over the rounds both ``engine`` and ours ran of engine / ours (empty
    if they share no round)."""
    ratios = [seconds / rounds[OURS][r] for r, seconds in rounds[engine].items()
              if r in rounds[OURS]]
    return [min(ratios), max(ratios)] if ratios else []


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
    config, workers, host = result["config"], result["workers"], result["machine"]
    info = {key.split("/")[0]: w["info"] for key, w in workers.items()}
    when = datetime.datetime.fromtimestamp(result["started"]).astimezone()
    load = result["loadavg"]
    memory = f", {host['memory_gib']:.0f} GiB memory" if host.get("memory_gib") else ""
    lines = [
        f"date       {when.isoformat(timespec='seconds')}  (python {host['python']}, "
        f"{host['system']} {host['release']})",
        f"cpu        {host['cpu']}; {host['logical_cpus']} logical CPUs, {host['usable_cpus']} "
        f"usable; caches {', '.join(host['caches']) or 'unknown'}{memory}; load average "
        f"{load['before'][0]:.2f} before, {load['after'][0]:.2f} after{_highest_load(result)}",
        peaks_line(result),
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
    sampling = (f", more until they last {config['min_request_s'] * 1e3:g} ms"
                if config.get("min_request_s") else "")
    lines.append(f"method     {len(config['threads'])} thread counts x {config['rounds']} rounds x "
                 f"{config['repeat']} samples (>= {config['min_sample_s'] * 1e3:g} ms each"
                 f"{sampling}), the median of each round's; a "
                 f"worker process per engine and thread count; engines alternate within each "
                 f"round; figures are medians over rounds")
    return lines


def _highest_load(result: dict) -> str:
    during = [t["loadavg"] for t in result["timings"] if "loadavg" in t]
    return f", {max(during):.2f} at most during the rounds" if during else ""


def peaks_line(result: dict) -> str:
    """The machine's measured limits, per thread count, and any override of them."""
    peaks, override = result["peaks"], result["config"].get("peak_gflops_per_core")
    counts = sorted(peaks["fma_gflops"], key=int)

    def per_threads(figures: Dict[str, float], unit: str) -> str:
        return ", ".join(f"{figures[t]:.1f} {unit} with {t} thread{'s' if t != '1' else ''}"
                         for t in counts)
    settings = peaks["settings"]
    line = (f"peaks      measured ({peaks['isa']}, own process, at the start and end, the best "
            f"of each): fp32 FMA "
            f"{per_threads(peaks['fma_gflops'], 'GFLOP/s')}; streaming read "
            f"{per_threads(peaks['read_gbps'], 'GB/s')} ({settings['read_bytes'] / 2 ** 20:g} "
            f"MiB buffer)")
    if override:
        line += f"; %peak uses --peak-gflops {override:g} GFLOP/s per core, not the FMA figure"
    return line


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
        return f"{figures['tokens_per_s']:.1f} tok/s, {figures['gbps']:.1f} GB/s"
    if row["bound"] == "flop":
        return f"{figures['gflops']:.1f} GFLOP/s"
    return f"{figures['gbps']:.1f} GB/s"


def _speedup(row: dict, engine: str) -> str:
    """"1.23x (1.10-1.31)": the ratio of medians and the range of the rounds' ratios."""
    if engine not in row["speedup"]:
        return "-"
    spread = row["speedup_range"][engine]
    return f"{row['speedup'][engine]:.2f}x" + (f" ({spread[0]:.2f}-{spread[1]:.2f})" if spread else "")


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
        cells += [_speedup(row, e) for e in others]
        ours = figures.get(OURS)
        cells.append(_rate(row, ours) if ours else "-")
        cells.append(f"{ours['peak_pct']:.0f}%" if ours else "")
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
        ">1 means ours is faster, in brackets the lowest and highest ratio of a single round "
        "(both engines timed back to back); rate: useful GFLOP/s (flop-bound) or minimum GB/s moved "
        "(memory-bound) or generated tokens/s and GB/s of weights streamed (generation); %peak: "
        "of the measured peak with that many threads, FMA throughput (flop-bound) or streaming "
        "read bandwidth (memory-bound; data that stays in cache can pass 100%)"]


def render(result: dict, markdown: bool = False) -> str:
    rows = summarize(result)
    lines = environment(result) + [""] + table(rows, result["config"]["engines"], markdown)
    return "\n".join(lines)
