"""The benchmark as a picture (``pytransformer bench --chart PATH``): one PNG, two panels per
thread count, every case a group of bars, one bar per engine:
  - speed relative to ours (our median time / theirs; ours = 1, log scale), who is ahead;
  - share of the machine's measured peak (FMA throughput for flop-bound cases, streaming read
    bandwidth for memory-bound ones), how close each engine gets to the limit.
matplotlib is an optional dependency (``pip install pytransformer[bench]``); it is imported only
here, and only when a chart is asked for."""

from __future__ import annotations

from typing import List

from .engines import ENGINES, OURS
from .report import fma_peak_gflops, read_peak_gbps, summarize


def require_matplotlib() -> None:
    """Raises ImportError, saying how to install it, if matplotlib is missing: called before a
    run, so a missing extra does not cost a whole benchmark."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError("--chart needs matplotlib: pip install matplotlib "
                          "(or pip install 'pytransformer[bench]')") from error


def write_chart(result: dict, path: str) -> None:
    """Draws the run ``result`` (what ``driver.run`` returns, or its JSON) into the PNG ``path``."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    rows = summarize(result)
    engines: List[str] = result["config"]["engines"]
    threads: List[int] = result["config"]["threads"]
    cases: List[str] = result["config"]["cases"]
    width = max(10.0, 0.15 * len(cases) * max(2, len(engines)) + 2)
    figure, axes = plt.subplots(2 * len(threads), 1, figsize=(width, 3.6 * 2 * len(threads)),
                                squeeze=False)
    bar = 0.8 / len(engines)
    colors = {e: f"C{i}" for i, e in enumerate(engines)}
    for t_index, count in enumerate(threads):
        speed, limit = axes[2 * t_index][0], axes[2 * t_index + 1][0]
        by_case = {row["case"]: row for row in rows if row["threads"] == count}
        for e_index, engine in enumerate(engines):
            shift = (e_index - (len(engines) - 1) / 2) * bar
            # Cases this engine ran (and ours too, for the ratio): an engine without a case
            # leaves a gap rather than a zero bar.
            ran = [(i + shift, by_case[c]["engines"][engine], by_case[c]["engines"].get(OURS))
                   for i, c in enumerate(cases) if engine in by_case[c]["engines"]]
            label = ENGINES[engine].label if engine in ENGINES else engine
            compared = [(x, ours["median_ms"] / theirs["median_ms"]) for x, theirs, ours in ran
                        if ours]
            speed.bar([x for x, _ in compared], [r for _, r in compared], bar, label=label,
                      color=colors[engine])
            limit.bar([x for x, _, _ in ran], [theirs["peak_pct"] for _, theirs, _ in ran], bar,
                      label=label, color=colors[engine])
        speed.set_yscale("log")
        # Ticks at 0.5, 1, 2, 5, ... labelled so, rather than 5x10^-1.
        speed.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        speed.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        speed.yaxis.set_minor_formatter(NullFormatter())
        speed.axhline(1.0, color="black", linewidth=0.8)
        speed.set_ylabel("their speed / ours\n(> 1: faster than ours)")
        named = f"{count} thread{'s' if count != 1 else ''}"
        speed.set_title(f"{named}: speed relative to ours (median times)")
        limit.axhline(100.0, color="black", linewidth=0.8)
        limit.set_ylabel("% of measured peak")
        limit.set_title(f"{named}: % of the measured peak ({fma_peak_gflops(result, count):.0f} "
                        f"GFLOP/s FMA if flop-bound, {read_peak_gbps(result, count):.1f} GB/s "
                        f"read if memory-bound)")
        for axis in (speed, limit):
            axis.set_xticks(range(len(cases)))
            axis.set_xticklabels(cases, rotation=30, ha="right", fontsize=8)
            axis.grid(axis="y", alpha=0.3)
    handles, labels = axes[1][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", ncol=len(engines))
    figure.suptitle(f"pytransformer bench on {result['machine']['cpu']}, "
                    f"{result['machine']['usable_cpus']} CPUs", x=0.01, ha="left")
    figure.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title and legend above
    figure.savefig(path, dpi=100)
    plt.close(figure)
