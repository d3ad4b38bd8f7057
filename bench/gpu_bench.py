"""GPU benchmark rows of the CUDA build (issue #7): ours vs PyTorch eager on the same GPU.

  MiniLM-L6 encode B=32 T=128 (all-MiniLM-L6-v2's shapes, random weights), and
  GPT-2 small greedy generation, 32-token prompt + 128 new tokens, B=1 and B=32.

Each engine runs in its own process (``--worker``), rounds alternate between engines, each
timing follows warm-up and a device synchronisation, and the medians are reported with the
ratio torch / ours. Random-weight checkpoints are written once to --workdir; PyTorch runs the
same checkpoints through transformers (fp32, TF32 off, eager attention).

  python bench/gpu_bench.py --workdir /tmp/gpu_bench [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = {
    "minilm_encode_b32_t128": dict(model="minilm", batch=32, length=128),
    "gpt2_greedy_b1": dict(model="gpt2", batch=1, length=32, new_tokens=128),
    "gpt2_greedy_b32": dict(model="gpt2", batch=32, length=32, new_tokens=128),
}
ENGINES = ("pytransformer", "torch")


def prepare(workdir: str) -> None:
    import torch
    import transformers

    torch.manual_seed(0)
    models = {
        "minilm": lambda: transformers.BertModel(transformers.BertConfig(
            vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
            intermediate_size=1536, max_position_embeddings=512)),
        "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config()),
    }
    for name, build in models.items():
        path = os.path.join(workdir, name)
        if not os.path.exists(os.path.join(path, "config.json")):
            build().eval().save_pretrained(path)


def _inputs(case):
    import numpy as np

    rng = np.random.default_rng(0)
    vocab = 30522 if case["model"] == "minilm" else 50257
    return rng.integers(1000, vocab, (case["batch"], case["length"]))


def _worker(engine: str, name: str, workdir: str, repeat: int) -> dict:
    """Time one case on one engine: seconds per call, after two warm-up calls."""
    case = CASES[name]
    path = os.path.join(workdir, case["model"])
    ids = _inputs(case)
    if engine == "pytransformer":
        import pytransformer

        model = pytransformer.load(path, device="cuda")
        if case["model"] == "minilm":
            def run():
                return model.encode(ids)
        else:
            def run():
                return model.generate(ids, max_new_tokens=case["new_tokens"],
                                      min_new_tokens=case["new_tokens"])
        sync = lambda: None  # noqa: E731  (outputs come back to NumPy: the call is synchronous)
    else:
        import torch
        import transformers

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        cls = transformers.BertModel if case["model"] == "minilm" else transformers.GPT2LMHeadModel
        model = cls.from_pretrained(path, attn_implementation="eager").cuda().eval()
        tensor = torch.tensor(ids).cuda()
        if case["model"] == "minilm":
            def run():
                with torch.no_grad():
                    return model(input_ids=tensor).last_hidden_state.cpu()
        else:
            def run():
                with torch.no_grad():
                    return model.generate(tensor, attention_mask=torch.ones_like(tensor),
                                          max_new_tokens=case["new_tokens"],
                                          min_new_tokens=case["new_tokens"], do_sample=False,
                                          pad_token_id=0).cpu()
        sync = torch.cuda.synchronize
    for _ in range(2):
        run()
    sync()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        sync()
        samples.append(time.perf_counter() - start)
    return {"engine": engine, "case": name, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(*args.worker, args.workdir, args.repeat)))
        return
    os.makedirs(args.workdir, exist_ok=True)
    prepare(args.workdir)
    samples = {(e, c): [] for e in ENGINES for c in args.cases.split(",")}
    for round_ in range(args.rounds):
        for case in args.cases.split(","):
            for engine in (ENGINES if round_ % 2 == 0 else ENGINES[::-1]):
                out = subprocess.run([sys.executable, __file__, "--workdir", args.workdir,
                                      "--repeat", str(args.repeat), "--worker", engine, case],
                                     check=True, capture_output=True, text=True).stdout
                samples[engine, case] += json.loads(out.strip().splitlines()[-1])["samples"]
                print(f"round {round_ + 1}/{args.rounds} {case} {engine} done", file=sys.stderr)
    print("| case | ours ms | torch ms | torch / ours | ours tok/s |")
    print("|---|---|---|---|---|")
    for case in args.cases.split(","):
        ours = statistics.median(samples["pytransformer", case]) * 1e3
        theirs = statistics.median(samples["torch", case]) * 1e3
        spec = CASES[case]
        rate = f"{spec['batch'] * spec['new_tokens'] / ours * 1e3:.0f}" if "new_tokens" in spec else ""
        print(f"| {case} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f}x | {rate} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{e}:{c}": s for (e, c), s in samples.items()}, f, indent=1)


if __name__ == "__main__":
    main()
