"""Fused attention vs the NumPy reference, interleaved in one process over several rounds.

Run from the repository root (the CPU is shared, so medians over rounds are compared):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. python bench/bench_attention.py [--threads 2]
GFLOP/s counts 4 * B * H * Tq * Tk * D (two matmuls), whatever the masks hide.
On a machine shared with other jobs, GOMP's default spin-wait makes small parallel calls wait
for a descheduled worker (milliseconds); OMP_WAIT_POLICY=passive shows the kernel's own time.
The steadiest comparison on a busy machine is CPU time, one thread each:
    OPENBLAS_NUM_THREADS=1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. \
        python bench/bench_attention.py --threads 1 --cpu-time
"""
import argparse
import statistics
import time

import numpy as np

import pytransformer
from pytransformer import ops, reference

# name, B, H, Hkv, Tq, Tk, D, key padding, causal
CASES = [
    ("MiniLM pad", 32, 12, 12, 128, 128, 32, True, False),
    ("causal 512", 1, 12, 12, 512, 512, 64, False, True),
    ("pad+causal", 8, 8, 8, 64, 64, 64, True, True),
    ("decode 1024", 1, 12, 12, 1, 1024, 64, False, False),
    ("decode GQA", 1, 32, 8, 1, 1024, 128, False, False),
]


def make(B, H, Hkv, Tq, Tk, D, pad, rng):
    q = rng.standard_normal((B, H, Tq, D), dtype=np.float32)
    k = rng.standard_normal((B, Hkv, Tk, D), dtype=np.float32)
    v = rng.standard_normal((B, Hkv, Tk, D), dtype=np.float32)
    mask = None
    if pad:  # each sequence keeps a random length in [Tk/2, Tk]
        lengths = rng.integers(Tk // 2, Tk + 1, size=B)
        mask = np.arange(Tk)[None, :] >= lengths[:, None]
    return q, k, v, mask


def timed(fn, reps, clock=time.perf_counter):
    t0 = clock()
    for _ in range(reps):
        fn()
    return (clock() - t0) / reps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cpu-time", action="store_true",
                        help="process CPU time instead of wall time (use with --threads 1)")
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    pytransformer.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"isa={pytransformer._core.cpu_isa()} "
          f"threads={args.threads} rounds={args.rounds} clock={clock.__name__}")
    print(f"{'case':<12} {'shape B,H/Hkv,Tq,Tk,D':<24} {'ours ms':>9} {'numpy ms':>9} {'ratio':>7} "
          f"{'ours GF/s':>9} {'numpy GF/s':>10}")
    for name, B, H, Hkv, Tq, Tk, D, pad, causal in CASES:
        q, k, v, mask = make(B, H, Hkv, Tq, Tk, D, pad, rng)
        ours = lambda: ops.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=causal)
        ref = lambda: reference.scaled_dot_product_attention(q, k, v, key_padding_mask=mask, causal=causal)
        err = np.abs(ours() - ref()).max()
        single = timed(ours, 1)
        reps = max(1, int(0.05 / max(single, 1e-6)))
        t_ours, t_ref = [], []
        for _ in range(args.rounds):
            t_ours.append(timed(ours, reps, clock))
            t_ref.append(timed(ref, max(1, reps // 4), clock))
        a, r = statistics.median(t_ours), statistics.median(t_ref)
        flops = 4.0 * B * H * Tq * Tk * D
        print(f"{name:<12} {f'{B},{H}/{Hkv},{Tq},{Tk},{D}':<24} {a * 1e3:9.3f} {r * 1e3:9.3f} "
              f"{r / a:7.1f} {flops / a / 1e9:9.1f} {flops / r / 1e9:10.1f}   maxerr {err:.1e}")


if __name__ == "__main__":
    main()
