"""A benchmark worker: one engine, one thread count, one process, driven over stdin/stdout.

Started by the driver as a script (``python .../bench/worker.py --engine E --threads N``), not
as ``-m pytransformer.bench.worker``: that would import the pytransformer package, and with it
our OpenMP runtime, into workers of other engines. The thread-count variables are set before
anything imports NumPy.

Protocol: one JSON object per line each way. The worker first answers
  {"ok": true, "engine", "threads", "pid", "info"}
then, per request:
  {"cmd": "setup", "cases": [names], "seed", "warmup_s", "min_sample_s"}
      builds each case's inputs and call, checks it runs, warms it up and picks ``number``
      (calls per sample, so that a sample lasts at least min_sample_s)
      -> {"ok": true, "cases": {name: {"supported", "number", "setup_s", "check"}
                                 or {"supported": true, "error": traceback}}}
  {"cmd": "time", "case": name, "repeat": r, "min_seconds": s}
      one untimed call (unless a call lasts over WARM_CALL_UNTIL_S), then samples of
      ``number`` calls, garbage collector off: at least r, and more while the samples have not
      yet lasted s seconds together (at most MAX_SAMPLES)
      -> {"ok": true, "times_s": [seconds per call, one per sample], "number"}
  {"cmd": "quit"}
A failure answers {"ok": false, "error": traceback}.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
import traceback
import types
from pathlib import Path

WARM_CALL_UNTIL_S = 0.5
# A time request's most samples: what a short call's request may add to keep sampling for its
# min_seconds is bounded whatever the call costs.
MAX_SAMPLES = 50


def _sibling(name: str):
    """A module of this folder. Run as a script, the folder is imported as the package
    ``_pytransformer_bench``, so ``pytransformer/__init__.py`` never runs."""
    import importlib

    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    package = sys.modules.get("_pytransformer_bench")
    if package is None:
        package = types.ModuleType("_pytransformer_bench")
        package.__path__ = [str(Path(__file__).resolve().parent)]
        sys.modules[package.__name__] = package
    return importlib.import_module(f"_pytransformer_bench.{name}")


def _digest(output) -> dict:
    """A small fingerprint of an output, for the driver to compare engines: shape, sums and
    up to 256 evenly spaced values."""
    import numpy as np

    flat = np.asarray(output, dtype=np.float32).ravel()
    step = max(1, flat.size // 256)
    return {"shape": list(np.shape(output)), "sum": float(flat.sum(dtype=np.float64)),
            "sum_abs": float(np.abs(flat).sum(dtype=np.float64)),
            "sample": flat[::step][:256].tolist()}


class Worker:
    def __init__(self, engine_name: str, threads: int):
        self.engine = _sibling("engines").ENGINES[engine_name]
        self.threads = threads
        self.adapter = self.engine.adapter(threads)  # the engine's runtimes load here
        self.cases = _sibling("cases")
        self.calls = {}  # case name -> (callable, number)

    def hello(self) -> dict:
        return {"ok": True, "engine": self.engine.name, "threads": self.threads,
                "pid": os.getpid(), "info": self.adapter.info()}

    def setup(self, cases, seed=0, warmup_s=0.2, min_sample_s=0.01) -> dict:
        report = {}
        for name in cases:
            try:
                report[name] = self._setup_case(self.cases.BY_NAME[name], seed, warmup_s,
                                                min_sample_s)
            except Exception:  # one broken case must not cost the others
                report[name] = {"supported": True, "error": traceback.format_exc()}
        return {"ok": True, "cases": report}

    def _setup_case(self, case, seed, warmup_s, min_sample_s) -> dict:
        build = getattr(self.adapter, case.op, None)
        if build is None:
            return {"supported": False}
        start = time.perf_counter()
        call = build(**case.inputs(seed), **case.params)
        check = _digest(call())
        per_call, warm_start, calls = math.inf, time.perf_counter(), 0
        while calls < 1 or time.perf_counter() - warm_start < warmup_s:
            t0 = time.perf_counter()
            call()
            per_call = min(per_call, time.perf_counter() - t0)
            calls += 1
        number = max(1, math.ceil(min_sample_s / max(per_call, 1e-9)))
        self.calls[case.name] = (call, number, per_call)
        return {"supported": True, "number": number, "setup_s": time.perf_counter() - start,
                "check": check}

    def time(self, case, repeat=5, min_seconds=0.0) -> dict:
        call, number, per_call = self.calls[case]
        # Wake the thread pool and bring the data back into cache, untimed; a call that lasts
        # longer than WARM_CALL_UNTIL_S (a whole generation) is not moved by either.
        if per_call < WARM_CALL_UNTIL_S:
            call()
        times = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            sampled = 0.0
            while len(times) < repeat or (sampled < min_seconds and len(times) < MAX_SAMPLES):
                t0 = time.perf_counter()
                for _ in range(number):
                    call()
                elapsed = time.perf_counter() - t0
                sampled += elapsed
                times.append(elapsed / number)
        finally:
            if gc_was_enabled:
                gc.enable()
        return {"ok": True, "times_s": times, "number": number}


def serve(worker: Worker, requests, replies) -> None:
    replies.write(json.dumps(worker.hello()) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        command = request.pop("cmd")
        if command == "quit":
            return
        try:
            reply = getattr(worker, {"setup": "setup", "time": "time"}[command])(**request)
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    for name in _sibling("engines").THREAD_VARIABLES:  # before NumPy or any runtime loads
        os.environ[name] = str(args.threads)
    # The protocol gets its own copy of stdout; anything else printing there (a library, C
    # code) goes to stderr instead of corrupting it.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        worker = Worker(args.engine, args.threads)
    except Exception:
        replies.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
        replies.flush()
        sys.exit(1)
    try:
        serve(worker, sys.stdin, replies)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the driver reports it
        sys.exit(130)


if __name__ == "__main__":
    main()
