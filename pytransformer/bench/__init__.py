"""The benchmark harness behind ``pytransformer bench`` (and the scripts in the repository's
bench/ folder): ours vs the NumPy reference (and later the peers), each engine in its own
worker process, alternating over rounds.

  cases.py    the manifest: every case, its seeded inputs and napkin maths (tests use it too)
  engines.py  the engines: one adapter class per engine, one method per op
  machine.py  the machine: what it is, and its peaks (FMA, streaming read) measured
  worker.py   the worker process: one engine, one thread count, JSON lines over stdin/stdout
  driver.py   starts the workers, runs the rounds, keeps every raw timing
  progress.py the progress bar on stderr
  report.py   medians, ratios, GFLOP/s and GB/s, the environment header and the table
  chart.py    the PNG chart (matplotlib, optional)
"""

from . import chart, machine, report
from .cases import CASES, Case, select
from .driver import Config, run
from .report import render, summarize

__all__ = ["CASES", "Case", "Config", "chart", "machine", "render", "report", "run", "select",
           "summarize"]
