"""Command-line flags shared by every subcommand that loads a model and runs the sampler."""

from __future__ import annotations

import argparse

from lsp_server.settings import Settings
from model.engine import DTYPES, INT8
from model.sampler import ORDERS, SCHEDULES, SamplerConfig


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="checkpoint folder or hub id (default: the embedded model)")
    p.add_argument("--allow-download", action="store_true", help="let a hub id download (needs network)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    p.add_argument("--context", type=int, default=512, help="context tokens around the span (default: 512)")
    add_dtype_arg(p)


def add_dtype_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dtype", choices=("auto", *DTYPES, INT8), default="auto",
        help="auto: bf16 on CUDA and on CPUs with hardware bf16 (AMX), else float32; int8: Linear weights in int8 "
        "(CPU only)",
    )


def add_sampler_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schedule", choices=SCHEDULES, default="threshold")
    p.add_argument("--order", choices=ORDERS, default="confidence")
    p.add_argument("--tokens-per-step", type=int, default=1, help="fixed schedule: commits per step")
    p.add_argument("--threshold", type=float, default=0.9, help="threshold schedule: commit at this score")
    p.add_argument("--max-steps", type=int, default=0, help="cap on steps (0: none)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="run the whole sequence every step")
    p.add_argument("--cache-refresh", type=int, default=0, help="full pass every k cached steps (0: never)")
    p.add_argument("--remask", type=float, default=0.0, help="self-correction: reopen tokens under this probability")
    p.add_argument(
        "--semi-ar", type=int, default=0, metavar="N",
        help="semi-autoregressive: commit only among the first N open positions (0: anywhere)",
    )
    p.add_argument("--pad-at-frontier", action="store_true", help="decide the span's length left to right")


def sampler_from_args(args: argparse.Namespace) -> SamplerConfig:
    return SamplerConfig(
        schedule=args.schedule,
        order=args.order,
        tokens_per_step=args.tokens_per_step,
        threshold=args.threshold,
        max_steps=args.max_steps,
        temperature=args.temperature,
        seed=args.seed,
        use_cache=not args.no_cache,
        cache_refresh=args.cache_refresh,
        remask_below=args.remask,
        window=args.semi_ar,
        pad_at_frontier=args.pad_at_frontier,
    )


def add_repair_margin_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repair-margin",
        type=float,
        default=Settings.repair_margin,
        metavar="NATS",
        help="with --repair: reopen a token only this far below the best alternative (default "
        f"{Settings.repair_margin:g}, as the server's repairMargin)",
    )
    p.add_argument(
        "--spelling-margin",
        type=float,
        default=Settings.spelling_margin,
        metavar="NATS",
        help="with --repair: correct a misspelt word when the model prefers the known word one keystroke away by "
        f"this much (default {Settings.spelling_margin:g}, as the server's spellingMargin)",
    )
    p.add_argument(  # None in the same place: the gates' "no spelling fixes"
        "--no-spelling", dest="spelling_margin", action="store_const", const=None,
        help="with --repair: no spelling fixes (repairSpelling off)",
    )
