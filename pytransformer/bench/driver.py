"""The benchmark driver: one persistent worker per (engine, thread count), rounds alternating
between engines, every raw timing kept.

Method (the project's rules, see bench/README.md): each engine runs in its own process, so the
thread pools of different runtimes (our OpenMP, NumPy's OpenBLAS) never share one; each worker
builds the same seeded inputs once and warms up; then, round after round, the driver asks every
engine in turn to time the same case (round r: engine A case c, engine B case c, ... in an order
that changes each round, see ``engine_order``) and the report takes medians over rounds, never
one time.
Before any worker starts and after they all stop, the machine's peaks are measured in a
process of their own (``machine.py``), for the report's %peak figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, TextIO, Tuple

from . import engines as engines_mod
from . import machine
from .cases import Case
from .progress import Progress

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.py"


@dataclass
class Config:
    cases: List[Case]
    engines: List[str] = field(default_factory=lambda: [
        name for name, engine in engines_mod.ENGINES.items() if engine.available()])
    threads: List[int] = field(default_factory=lambda: [1, 2])
    rounds: int = 10
    repeat: int = 5  # samples per (round, engine, case), at least
    # A request keeps sampling (past `repeat`) until its samples have lasted this long together:
    # a round's figure for a call of a few ms is then the median of ~5-10 samples, which a spike
    # inside one of them does not move (run S, MiniLM B=1 T=16, 2 threads: one request's samples
    # 2.58-4.20 ms, median 2.73). It does not steady the drift between rounds, minutes apart
    # (same run: the rounds' medians 2.15-3.60 ms); the ratios pair engines within a round for
    # that. A case that takes this long per sample keeps `repeat` samples.
    min_request_s: float = 0.1
    warmup_s: float = 0.2  # per case, once, in each worker
    min_sample_s: float = 0.01  # a sample repeats the call until it lasts this long
    # Before each request, wait until no worker burns CPU (see wait_until_idle), at most this long.
    settle_s: float = 1.0
    seed: int = 0
    unset_openblas_overrides: bool = False
    peak_settings: machine.PeakSettings = field(default_factory=machine.PeakSettings)
    # Overrides the measured FMA peak in %peak: GFLOP/s of one core (times the thread count).
    peak_gflops_per_core: Optional[float] = None

    def describe(self) -> Dict[str, object]:
        described = asdict(self)
        described["cases"] = [case.name for case in self.cases]
        return described


class WorkerProcess:
    """One worker, spoken to in JSON lines over its stdin/stdout (stderr is shared with ours)."""

    def __init__(self, engine: str, threads: int, env: Dict[str, str]):
        self.engine, self.threads = engine, threads
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), "--engine", engine, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

    @property
    def key(self) -> str:
        return f"{self.engine}/{self.threads}"

    def receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise RuntimeError(f"worker {self.key} exited (code {code}) without answering")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"worker {self.key} failed:\n{reply.get('error')}")
        return reply

    def request(self, **message) -> dict:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def _start_workers(config: Config) -> Tuple[Dict[Tuple[str, int], WorkerProcess], dict]:
    """Every worker, started together (imports overlap), each with its own environment."""
    workers, removed = {}, {}
    for name in config.engines:
        for threads in config.threads:
            env, dropped = engines_mod.worker_environment(
                engines_mod.ENGINES[name], threads, os.environ, config.unset_openblas_overrides)
            removed[name] = dropped
            workers[name, threads] = WorkerProcess(name, threads, env)
    return workers, removed


def run(config: Config, log: Optional[TextIO] = sys.stderr) -> dict:
    """Run the benchmark; returns every raw timing, the machine and its measured peaks, and what
    each worker reported (see ``report.summarize`` for the figures). Progress goes to ``log``."""
    def say(message: str) -> None:
        if log is not None:
            print(message, file=log, flush=True)

    unknown = [name for name in config.engines if name not in engines_mod.ENGINES]
    if unknown:
        raise ValueError(f"engines: unknown {unknown}; known: {list(engines_mod.ENGINES)}")
    started = time.time()
    load_before = os.getloadavg()
    say(f"measuring the machine's peaks (FMA, streaming read) with {config.threads} threads")
    peaks_first = machine.measure_peaks_in_own_process(config.threads, config.peak_settings)
    workers, removed = _start_workers(config)
    try:
        hellos = {w.key: w.receive() for w in workers.values()}
        setups = {}
        for worker in workers.values():  # one at a time: warm-ups must not overlap
            say(f"setting up {worker.key} ({len(config.cases)} cases)")
            setups[worker.key] = worker.request(
                cmd="setup", cases=[c.name for c in config.cases], seed=config.seed,
                warmup_s=config.warmup_s, min_sample_s=config.min_sample_s)["cases"]
        timings = _rounds(config, workers, setups, log)
    finally:
        for worker in workers.values():
            worker.close()
    say("measuring the machine's peaks again")
    peaks = machine.best_of(
        [peaks_first, machine.measure_peaks_in_own_process(config.threads, config.peak_settings)])
    return {"config": config.describe(), "cases": [c.describe() for c in config.cases],
            "started": started, "elapsed_s": time.time() - started,
            "machine": machine.describe(), "peaks": peaks,
            "loadavg": {"before": load_before, "after": os.getloadavg()},
            "openblas_overrides": {
                "driver_env": {k: os.environ.get(k) for k in engines_mod.OPENBLAS_OVERRIDES},
                "unset_requested": config.unset_openblas_overrides, "removed": removed},
            "workers": {key: {"info": hellos[key]["info"], "pid": hellos[key]["pid"],
                              "cases": setups[key]} for key in hellos},
            "timings": timings}


def _timed(setups: dict, key: str, case: str) -> bool:
    setup = setups[key][case]
    return bool(setup.get("supported")) and "error" not in setup


def engine_order(engines: List[str], r: int) -> List[str]:
    """The engines in the order round r times them: row r of a Williams design. Over len(engines)
    rounds (twice that for an odd count) every engine takes every position equally often and
    follows every other engine equally often, so whatever one engine leaves behind (a pool still
    spinning, caches) lands on each of the others alike; a plain rotation kept the neighbours
    fixed (every round, the same engine ran right after the same one)."""
    n = len(engines)
    first = [0]  # 0, 1, n - 1, 2, n - 2, ...: the steps between neighbours are all different
    low, high = 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    row = [(i + r) % n for i in first]
    if n % 2 and (r // n) % 2:  # odd counts need the mirrored square as well
        row.reverse()
    return [engines[i] for i in row]


def _cpu_ticks(pid: int) -> Optional[int]:
    """User + system CPU time of process pid so far, in clock ticks (from /proc); None where
    /proc is not available."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    except (OSError, IndexError, ValueError):
        return None


def wait_until_idle(pids: List[int], most_s: float, window_s: float = 0.03) -> float:
    """Returns once the processes burn no CPU for window_s together (or after most_s; without
    /proc, after a pause of 0.2 s or most_s, the shorter), and how long it waited.

    A thread pool keeps spinning after its last call so that the next one starts at once:
    OpenBLAS's threads for ~130 ms here, burning a core that the next engine's threads then
    share (with a fixed 50 ms pause, our 2-thread GEMV timed right after NumPy's ran 7x slower
    than after anything else; 0.2 ms against 1.5). A window of 30 ms spans three 100 Hz ticks of
    CPU accounting, so a spinning thread cannot pass unseen."""
    start = time.perf_counter()
    ticks = [_cpu_ticks(pid) for pid in pids]
    if None in ticks:
        time.sleep(min(0.2, most_s))
        return time.perf_counter() - start
    while time.perf_counter() - start < most_s:
        time.sleep(window_s)
        now = [_cpu_ticks(pid) for pid in pids]
        if now == ticks:
            break
        ticks = now
    return time.perf_counter() - start


def _rounds(config: Config, workers, setups, log: Optional[TextIO]) -> List[dict]:
    per_round = sum(_timed(setups, w.key, c.name) for w in workers.values() for c in config.cases)
    progress = Progress(config.rounds * per_round, log)
    timings = []
    try:
        for r in range(config.rounds):
            order = engine_order(config.engines, r)
            for case in config.cases:
                for threads in config.threads:
                    for position, name in enumerate(order):
                        worker = workers[name, threads]
                        if not _timed(setups, worker.key, case.name):
                            continue
                        wait_until_idle([w.process.pid for w in workers.values()],
                                        config.settle_s)
                        reply = worker.request(cmd="time", case=case.name, repeat=config.repeat,
                                               min_seconds=config.min_request_s)
                        # The 1-minute load average after each request: a sample taken while
                        # other work shared the cores shows itself in the JSON.
                        timings.append({"case": case.name, "threads": threads, "engine": name,
                                        "round": r, "position": position,
                                        "number": reply["number"], "times_s": reply["times_s"],
                                        "loadavg": os.getloadavg()[0]})
                        progress.advance(f"round {r + 1}/{config.rounds}: {case.name} on "
                                         f"{worker.key}")
    finally:
        progress.close()
    return timings
