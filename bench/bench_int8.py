"""int8 vs float32, interleaved in one process (the cores may be shared: medians of CPU time).

    python bench/bench_int8.py [--rounds 7]

MiniLM (all-MiniLM-L6-v2) encode at B=32 T=128 and B=1 T=128, then decode-shaped GEMMs
(M = 1..8 rows, 768 -> 3072 and 3072 -> 768) with the weight traffic in GB/s (int8: 1 byte a
weight, float32: 4).
"""

import argparse
import time

import numpy as np

import pytransformer
from pytransformer import ops
from pytransformer.bench.models import minilm_path


def cpu_time(fn, reps):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - c0) / reps, (time.perf_counter() - t0) / reps


def interleaved(fns, rounds, reps):
    cpu = {k: [] for k in fns}
    wall = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            c, w = cpu_time(fn, reps)
            cpu[k].append(c)
            wall[k].append(w)
    return {k: (float(np.median(cpu[k])), float(np.median(wall[k]))) for k in fns}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"isa={pytransformer.cpu_isa()} int8 kernel={pytransformer._core.int8_kernel()} "
          f"threads={pytransformer._core.get_num_threads()}")
    path = minilm_path()
    if path is not None:
        fp32 = pytransformer.load(path)
        int8 = pytransformer.load(path, compute_type="int8")
        rng = np.random.default_rng(0)
        for B, T, reps in [(32, 128, 1), (1, 128, 10)]:
            ids = rng.integers(1000, 20000, (B, T))
            mask = np.ones((B, T), np.int64)
            r = interleaved({"fp32": lambda: fp32.encode(ids, mask),
                             "int8": lambda: int8.encode(ids, mask)}, args.rounds, reps)
            print(f"MiniLM B={B} T={T}: fp32 {r['fp32'][0]*1e3:.1f} ms cpu ({r['fp32'][1]*1e3:.1f} wall)"
                  f"  int8 {r['int8'][0]*1e3:.1f} ms cpu ({r['int8'][1]*1e3:.1f} wall)"
                  f"  speed-up cpu {r['fp32'][0]/r['int8'][0]:.2f}x wall {r['fp32'][1]/r['int8'][1]:.2f}x")
    rng = np.random.default_rng(1)
    for N, K in [(3072, 768), (768, 3072)]:
        w = rng.standard_normal((N, K)).astype(np.float32) * 0.05
        lf, lq = ops.Linear(w), ops.LinearInt8(w)
        for M in (1, 2, 4, 8):
            x = rng.standard_normal((M, K)).astype(np.float32)
            r = interleaved({"fp32": lambda: lf(x), "int8": lambda: lq(x)}, args.rounds, 50)
            gbs = {k: (N * K * (4 if k == "fp32" else 1)) / r[k][1] / 1e9 for k in r}
            print(f"decode GEMM M={M} N={N} K={K}: fp32 {r['fp32'][1]*1e6:.0f} us ({gbs['fp32']:.1f} GB/s)"
                  f"  int8 {r['int8'][1]*1e6:.0f} us ({gbs['int8']:.1f} GB/s)"
                  f"  speed-up {r['fp32'][1]/r['int8'][1]:.2f}x (wall)")


if __name__ == "__main__":
    main()
