"""The ``pytransformer`` command (also ``python -m pytransformer``).

  pytransformer info                  version, instruction sets, threads
  pytransformer bench [options]       the op benchmark: ours vs NumPy, see bench/README.md
  pytransformer generate --model PATH "prompt" [...]   text generation / translation
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional


def _ints(text: str) -> List[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number of seconds, got {text!r}")
    return value


def _names(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_bench(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="time our ops against the NumPy reference",
        description="Time pytransformer's ops against the NumPy reference on Transformer "
                    "shapes, each engine in its own process, alternating over rounds. The "
                    "table goes to stdout, progress to stderr.")
    parser.add_argument("--threads", type=_ints, default=[1, 2], metavar="N,N",
                        help="thread counts to run (default: 1,2)")
    parser.add_argument("--rounds", type=int, help="rounds (default: 5, --quick: 3)")
    parser.add_argument("--repeat", type=int,
                        help="timed samples per engine, case and round, at least (default: 1, "
                             "--quick: 3)")
    parser.add_argument("--request-seconds", type=_seconds, metavar="S",
                        help="keep taking samples (past --repeat, up to 50) until they last S "
                             "seconds together, so that a short call's round is a median of "
                             "several samples (default: 0.1, --quick: 0.03)")
    parser.add_argument("--quick", action="store_true",
                        help="a few representative cases, fewer rounds, short warm-up")
    parser.add_argument("--cases", type=_names, action="extend", metavar="GLOB,GLOB",
                        help="cases to run, by name or glob (see --list); default: all")
    parser.add_argument("--engines", type=_names, metavar="NAME,NAME",
                        help="engines to run (default: all; the first is ours)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--json", metavar="PATH", help="also write every raw timing here")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown (for a README) instead of aligned text")
    parser.add_argument("--unset-openblas-overrides", action="store_true",
                        help="remove OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from the NumPy "
                             "worker's environment (they can slow NumPy down)")
    parser.add_argument("--peak-gflops", type=float, metavar="GFLOPS",
                        help="use this per-core GFLOP/s for %%peak instead of the FMA peak the "
                             "run measures")
    parser.add_argument("--chart", metavar="PATH",
                        help="also draw the results as a PNG here (needs matplotlib)")
    parser.add_argument("--from-json", metavar="PATH",
                        help="run nothing: print the table (and --chart) of a run saved with "
                             "--json")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (default: 0)")
    parser.set_defaults(run=_bench)


def _bench(args) -> int:
    from . import bench

    if args.chart:
        try:
            bench.chart.require_matplotlib()
        except ImportError as error:
            print(f"pytransformer bench: {error}", file=sys.stderr)
            return 2
    if args.peak_gflops is not None and not args.peak_gflops > 0:
        print(f"pytransformer bench: --peak-gflops must be > 0, got {args.peak_gflops}",
              file=sys.stderr)
        return 2
    if args.from_json:
        try:
            with open(args.from_json) as saved:
                result = json.load(saved)
        except (OSError, ValueError) as error:
            print(f"pytransformer bench: --from-json: {error}", file=sys.stderr)
            return 2
        missing = [key for key in ("config", "cases", "peaks") if key not in result]
        if missing:
            print(f"pytransformer bench: --from-json: {args.from_json} has no "
                  f"{', '.join(missing)} (not a result of this version's bench --json)",
                  file=sys.stderr)
            return 2
        if args.peak_gflops is not None:
            result["config"]["peak_gflops_per_core"] = args.peak_gflops
    else:
        result = _run_bench(args)
        if isinstance(result, int):
            return result
    print(bench.render(result, markdown=args.markdown), flush=True)
    if args.json and not args.from_json:
        result["header"] = bench.report.environment(result)
        result["summary"] = bench.summarize(result)
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
        print(f"raw timings written to {args.json}", file=sys.stderr)
    if args.chart:
        bench.chart.write_chart(result, args.chart)
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0


def _run_bench(args):
    """The run the options ask for: its result, or the exit status when there is none."""
    from . import bench
    from .bench.engines import ENGINES

    try:
        cases = bench.select(args.cases or (), quick=args.quick)
    except ValueError as error:
        print(f"pytransformer bench: {error}", file=sys.stderr)
        return 2
    if args.list:
        for case in cases:
            print(f"{case.name:28} {case.op:11} {case.shape}")
        return 0
    # By default, the engines whose runtimes are installed (peers are optional).
    engines = args.engines or [name for name, engine in ENGINES.items() if engine.available()]
    missing = [case for case in cases if not case.available()]
    if missing:
        print("pytransformer bench: skipping " + ", ".join(
            f"{case.name} (needs {' and '.join(case.requires)})" for case in missing), file=sys.stderr)
        cases = [case for case in cases if case.available()]
        if not cases:
            return 2
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        print(f"pytransformer bench: unknown engine(s) {unknown}; known: {list(ENGINES)}",
              file=sys.stderr)
        return 2
    config = bench.Config(
        cases=cases, engines=engines, threads=args.threads,
        rounds=args.rounds or (3 if args.quick else 5),
        repeat=args.repeat or (3 if args.quick else 1),
        min_request_s=(args.request_seconds if args.request_seconds is not None
                       else 0.03 if args.quick else 0.1),
        warmup_s=0.05 if args.quick else 0.2, min_sample_s=0.005 if args.quick else 0.01,
        seed=args.seed, unset_openblas_overrides=args.unset_openblas_overrides,
        peak_settings=bench.machine.QUICK_PEAKS if args.quick else bench.machine.PeakSettings(),
        peak_gflops_per_core=args.peak_gflops)
    try:
        return bench.run(config)
    except RuntimeError as error:  # a worker failed to start or died: its traceback says why
        print(f"pytransformer bench: {error}", file=sys.stderr)
        return 1


def _add_generation_options(parser) -> None:
    parser.add_argument("--max-new-tokens", type=int, metavar="N")
    parser.add_argument("--min-new-tokens", type=int, metavar="N")
    parser.add_argument("--num-beams", type=int, metavar="N")
    parser.add_argument("--num-return-sequences", type=int, metavar="N")
    parser.add_argument("--length-penalty", type=float)
    parser.add_argument("--do-sample", action="store_true", default=None)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--repetition-penalty", type=float)
    parser.add_argument("--no-repeat-ngram-size", type=int)
    parser.add_argument("--seed", type=int, help="seed of the sampling generator")


def _add_generate(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate text (decoder-only) or translate (encoder-decoder)",
        description="Continue each prompt with a decoder-only model, or translate each "
                    "sentence with an encoder-decoder, using the tokenizer.json beside the "
                    "model. Unset options default to the checkpoint's generation config, then "
                    "to Hugging Face's defaults. One output line per result.")
    parser.add_argument("prompts", nargs="+", help="prompts (or source sentences)")
    parser.add_argument("--model", required=True, metavar="PATH", help="checkpoint folder")
    _add_generation_options(parser)
    parser.set_defaults(run=_generate)


def _add_translate(subparsers) -> None:
    from .translator import MODEL_DIR

    parser = subparsers.add_parser(
        "translate", help="translate with an encoder-decoder (default: the bundled model)",
        description="Translate each sentence with an encoder-decoder checkpoint and the "
                    "tokenizer.json beside it. The default model is the one that ships with "
                    "pytransformer: English numbers in words to digits, e.g. "
                    "'three hundred and forty-two thousand and seven' -> 342007.")
    parser.add_argument("prompts", nargs="+", metavar="sentences", help="source sentences")
    parser.add_argument("--model", default=str(MODEL_DIR), metavar="PATH",
                        help="checkpoint folder (default: the bundled number translator)")
    _add_generation_options(parser)
    parser.set_defaults(run=_generate)


def _generate(args) -> int:
    from .text import Generator, Translator

    options = {k: getattr(args, k) for k in (
        "max_new_tokens", "min_new_tokens", "num_beams", "num_return_sequences", "length_penalty",
        "do_sample", "temperature", "top_k", "top_p", "repetition_penalty",
        "no_repeat_ngram_size", "seed") if getattr(args, k) is not None}
    try:
        with open(os.path.join(args.model, "config.json")) as f:
            raw = json.load(f)  # ours says kind, a Hugging Face one is_encoder_decoder
        seq2seq = raw.get("kind") == "encoder-decoder" or bool(raw.get("is_encoder_decoder"))
        if seq2seq:
            outputs = Translator(args.model).translate(args.prompts, **options)
        else:
            outputs = Generator(args.model).generate_text(args.prompts, **options)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"pytransformer generate: {error}", file=sys.stderr)
        return 2
    for text in outputs:
        print(text)
    return 0


def _info(args) -> int:
    import numpy

    import pytransformer
    from .bench.machine import cpu_model

    print(f"pytransformer   {pytransformer.__version__} ({pytransformer.__file__})")
    print(f"isa             {pytransformer.cpu_isa()}")
    print(f"supported isas  {', '.join(pytransformer.supported_isas())}")
    print(f"int8 kernel     {pytransformer._core.int8_kernel()} "
          f"(supported: {', '.join(pytransformer._core.supported_int8_kernels())})")
    print(f"threads         {pytransformer.get_num_threads()}")
    print(f"cpu             {cpu_model()}")
    print(f"numpy           {numpy.__version__}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="pytransformer", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = subparsers.add_parser("info", help="version, instruction sets and threads")
    info.set_defaults(run=_info)
    _add_bench(subparsers)
    _add_generate(subparsers)
    _add_translate(subparsers)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
