"""Linear (GEMM) speed: ours vs NumPy/OpenBLAS, timed interleaved in one process.


    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_gemm.py [--threads 2] [--isa avx512]
    ... --threads 1 --clock cpu     (1 thread, CPU time: steadier when the cores are shared)

For each shape [M, K] x [K -> N] it reports the median over rounds of: ours (Linear with bias),
NumPy `x @ W.T + b` and bare `x @ W.T`, with GFLOP/s, % of the FMA peak (PEAK_GFLOPS per core)
and the rate at which the weights are streamed (GB/s: what bounds the decode shapes, small M).
"""
import argparse
import pathlib
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the in-tree package

import pytransformer
from pytransformer import _core, ops

# fp32 FMA peak of one core, measured on the dev machine with bench/fma_peak.c (~156-175 GFLOP/s
# over runs; the spec sheet figure we were given, 116, is below what the core sustains).
PEAK_GFLOPS = 160.0

PREFILL = [(4096, 384, 1536), (4096, 1536, 384), (4096, 384, 384), (128, 384, 1152),
           (16, 384, 1536), (4096, 768, 3072)]
DECODE = [(m, k, n) for m in (1, 4, 8) for (k, n) in ((768, 2304), (768, 3072), (768, 768),
                                                        (3072, 768))]


def best_repeats(f, target_s=0.02):
    t0 = time.perf_counter()
    f()
    dt = time.perf_counter() - t0
    return max(1, min(200, int(target_s / max(dt, 1e-7))))


CLOCK = time.perf_counter


def timed(f, reps):
    t0 = CLOCK()
    for _ in range(reps):
        f()
    return (CLOCK() - t0) / reps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--isa", default=None)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--only", choices=["prefill", "decode"], default=None)
    p.add_argument("--stat", choices=["median", "min"], default="median",
                   help="min: best round, i.e. the machine undisturbed (noisy shared hosts)")
    p.add_argument("--peak", type=float, default=PEAK_GFLOPS, help="GFLOP/s of one core")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: process CPU time (1 thread only; less disturbed by other load)")
    args = p.parse_args()
    if args.clock == "cpu":
        if args.threads != 1:
            p.error("--clock cpu needs --threads 1")
        global CLOCK
        CLOCK = time.process_time
    if args.isa:
        _core.set_isa(args.isa)
    pytransformer.set_num_threads(args.threads)
    shapes = (PREFILL if args.only != "decode" else []) + (DECODE if args.only != "prefill" else [])
    rng = np.random.default_rng(0)
    peak = args.peak * args.threads
    print(f"isa={pytransformer.cpu_isa()} threads={args.threads} clock={args.clock} "
          f"rounds={args.rounds} stat={args.stat} "
          f"peak={peak:.0f} GFLOP/s")
    print(f"{'M':>5} {'K':>5} {'N':>5} | {'ours ms':>8} {'GF/s':>6} {'%pk':>4} {'GB/s':>5} | "
          f"{'np+b ms':>8} {'np ms':>8} {'GF/s':>6} | {'vs np+b':>7} {'vs np':>6}")
    with threadpool_limits(limits=args.threads):
        for m, k, n in shapes:
            x = rng.standard_normal((m, k), dtype=np.float32)
            w = rng.standard_normal((n, k), dtype=np.float32)
            b = rng.standard_normal(n, dtype=np.float32)
            wt = w.T
            lin = ops.Linear(w, b)
            fs = {"ours": lambda: lin(x), "npb": lambda: x @ wt + b, "np": lambda: x @ wt}
            reps = {key: best_repeats(f) for key, f in fs.items()}
            times = {key: [] for key in fs}
            for _ in range(args.rounds):
                for key, f in fs.items():
                    times[key].append(timed(f, reps[key]))
            stat = np.median if args.stat == "median" else np.min
            med = {key: float(stat(v)) for key, v in times.items()}
            flops = 2.0 * m * n * k
            gf = flops / med["ours"] / 1e9
            gbs = n * k * 4 / med["ours"] / 1e9
            print(f"{m:5d} {k:5d} {n:5d} | {med['ours']*1e3:8.3f} {gf:6.1f} {100*gf/peak:4.0f} "
                  f"{gbs:5.1f} | {med['npb']*1e3:8.3f} {med['np']*1e3:8.3f} "
                  f"{flops/med['np']/1e9:6.1f} | {med['npb']/med['ours']:7.2f} "
                  f"{med['np']/med['ours']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
