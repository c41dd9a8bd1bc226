"""`instant-edit bench`: latency, throughput and model calls per token, as one JSON object on the last line."""

from __future__ import annotations

import argparse
import json
import os
import sys

from lsp_server.cli.sampler_args import add_dtype_arg


def run(args: argparse.Namespace) -> int:
    # Every mode loads its model through model.load, some in child processes or a server: the environment
    # reaches them all.
    os.environ["INSTANT_EDIT_DTYPE"] = args.dtype
    if args.lsp and args.typing:
        from lsp_server.cli.bench_typing import run_typing_bench

        report = run_typing_bench(args)
    elif args.lsp:
        from lsp_server.cli.bench_lsp import run_lsp_bench

        report = run_lsp_bench(args)
    elif args.convert:
        from lsp_server.cli.bench_convert import run_convert_bench

        report = run_convert_bench(args)
    elif args.train:
        from pathlib import Path

        from model.bench_train import TrainBenchConfig, run_train_bench

        cfg = TrainBenchConfig(model=Path(args.model) if args.model else None, steps=args.steps,
                               threads=args.threads or 1, seed=args.seed)
        report = run_train_bench(cfg, lambda line: print(line, file=sys.stderr))
    elif args.gpu:
        from model.bench_gpu import run_gpu_bench

        report = run_gpu_bench(args)
    else:
        from model.bench import SHAPES, BenchConfig, run_engine_bench

        if args.shape and args.model:
            print("instant-edit bench: --shape times random weights; it does not take --model", file=sys.stderr)
            return 2
        if args.shape and args.shape not in SHAPES:
            print(f"instant-edit bench: unknown shape {args.shape!r}; choose {', '.join(SHAPES)}", file=sys.stderr)
            return 2
        cfg = BenchConfig(
            model=args.model, device=args.device, spans=args.spans, kind=args.kind, context=args.context,
            seed=args.seed, threads=args.threads, threshold=args.threshold, shape=args.shape, layers=args.layers,
            modes=tuple(args.modes),
        )
        report = run_engine_bench(cfg, lambda mode, r: print(f"{mode}: {json.dumps(r)}", file=sys.stderr))
    print(json.dumps(report))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure latency and model calls per token (JSON on the last line)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--lsp", action="store_true", help="inline completion through the server vs the engine")
    which.add_argument("--convert", action="store_true", help="batch conversion: batched vs one unit per call")
    which.add_argument("--gpu", action="store_true", help="7B-shaped random checkpoint on CUDA")
    which.add_argument("--train", action="store_true",
                       help="training steps: eager against torch.compile (train --compile), on the same batches")
    p.add_argument("--model", default=None, help="checkpoint folder (default: the embedded model)")
    p.add_argument("--device", default="cpu")
    add_dtype_arg(p)
    p.add_argument("--spans", type=int, default=100, help="held-out spans to run (--convert: units)")
    p.add_argument("--requests", type=int, default=30, help="--lsp: completion requests to time")
    p.add_argument("--warmup", type=int, default=3, help="--lsp: untimed requests first")
    p.add_argument("--typing", action="store_true", help="--lsp: replay typing a held-out file, then accepts")
    p.add_argument("--busy", action="store_true", help="--lsp --typing: keep one core busy meanwhile")
    p.add_argument("--key-ms", type=float, default=60, help="--typing: milliseconds between keys")
    p.add_argument("--read-ms", type=float, default=250, help="--typing: time between a suggestion and its accept")
    p.add_argument("--accept-cases", type=int, default=20, help="--typing: accepts to replay")
    p.add_argument("--typing-chars", type=int, default=400, help="--typing: characters to type")
    p.add_argument("--completion-context", type=int, default=0, help="--typing: the server's completion context")
    p.add_argument("--debounce-ms", type=float, default=None, help="--typing: the server's debounce (default: auto)")
    p.add_argument("--kind", default="line", help="span kind: line, line_tail, lines, syntax, random")
    p.add_argument("--context", type=int, default=512, help="context tokens around the span")
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (0: default; --typing: the server's; --train: 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=30, help="--train: timed steps of each kind")
    p.add_argument("--tiny", action="store_true", help="--gpu: tiny shapes, runs on the CPU")
    p.add_argument(  # the names are model.bench.SHAPES; not imported here, so `--help` stays free of torch
        "--shape", metavar="NAME", help="random weights of a released model's shapes (qwen2.5-0.5b, qwen3-0.6b) or of the embedded model's at "
        "another size (embedded-4m, -8m, -15m, -23m)",
    )
    p.add_argument(  # model.bench.MODES
        "--modes", nargs="+", default=["baseline", "threshold", "threshold_cache"], metavar="MODE",
        choices=["baseline", "threshold", "threshold_cache"], help="engine bench: which samplers to time",
    )
    p.add_argument("--layers", type=int, default=0, help="--shape: keep only the first N layers (smoke tests)")
    p.set_defaults(func=run)
