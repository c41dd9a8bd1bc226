"""`instant-edit convert PATH... (--instruction TEXT | --to LANGUAGE | --repair | --fill)`: convert a whole tree."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lsp_server.cli.sampler_args import add_model_args, add_repair_margin_arg, add_sampler_args, sampler_from_args


def settings_from_args(args: argparse.Namespace):
    from lsp_server.cli.batch.plan import Mode
    from lsp_server.cli.batch.runner import Settings
    from lsp_server.cli.batch.walk import Filters
    from lsp_server.cli.batch.work import Output
    from lsp_server.languages import EXTENSION_BY_LANGUAGE, detect_language

    if args.to:
        language = detect_language(args.to)
        if language is None:
            raise ValueError(f"unknown language {args.to!r}; choose from {', '.join(sorted(EXTENSION_BY_LANGUAGE))}")
        mode = Mode("to", language=language)
    elif args.instruction is not None:
        if not args.instruction.strip():
            raise ValueError("the instruction is empty")
        mode = Mode("instruction", instruction=args.instruction)
    else:
        repair = Mode("repair", repair_margin=args.repair_margin, spelling_margin=args.spelling_margin)
        mode = repair if args.repair else Mode("fill")
    kind = "write" if args.write else ("out" if args.out else "dry-run")
    out_dir = Path(args.out).resolve() if args.out else None
    output = Output(kind, out_dir, EXTENSION_BY_LANGUAGE[mode.language] if mode.language else "")
    filters = Filters(tuple(args.include), tuple(args.exclude), not args.no_gitignore, (out_dir,) if out_dir else ())
    return Settings(
        mode,
        output,
        sampler_from_args(args),
        filters,
        Path(args.journal) if args.journal else None,
        args.resume,
        args.restart,
        args.context,
        args.batch_size,
        args.batch_tokens,
        args.max_unit_tokens,
        args.window,
    )


def make_executor(args: argparse.Namespace):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.ray:
        from lsp_server.cli.batch.ray_runner import RayExecutor

        return RayExecutor(args.ray, args.model, args.device, args.context, args.threads, args.ray_actors)
    import model
    from lsp_server.cli.batch.runner import LocalExecutor

    return LocalExecutor(model.load(args.model, device=args.device, context_tokens=args.context, dtype=args.dtype), args.context)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lsp_server.cli.batch import report
    from lsp_server.cli.batch.journal import JournalError
    from lsp_server.cli.batch.plan import token_counter
    from lsp_server.cli.batch.runner import convert
    from model.checkpoint import CheckpointError

    err = Console(stderr=True)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"instant-edit: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        settings = settings_from_args(args)
        executor = make_executor(args)
        count = token_counter(args.model)
    except (ValueError, CheckpointError) as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    progress = report.LiveProgress(err) if not (args.json or args.no_progress) else None
    began = time.monotonic()
    try:
        result = convert([Path(p) for p in args.paths], settings, executor, count, progress)
    except JournalError as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("instant-edit: interrupted; finished files are written, run again with --resume", file=sys.stderr)
        raise
    finally:
        if progress is not None:
            progress.stop()
    summary = report.summarize(result.outcomes, result.tokens, time.monotonic() - began)
    if args.json:
        print(report.as_json(summary, result.outcomes, result.journal))
    else:
        for outcome in sorted(result.outcomes, key=lambda o: o.file):
            sys.stdout.write(outcome.diff)
        report.print_summary(err, summary, result.outcomes, result.journal)
    return 1 if summary["files"]["failed"] else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert, translate, repair or fill a whole tree, in batches")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files and folders (folders: known languages only)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--instruction", help="rewrite every unit as this says (given as a comment before it)")
    mode.add_argument("--to", metavar="LANGUAGE", help="translate to LANGUAGE; files get its extension")
    mode.add_argument("--repair", action="store_true", help="reopen each unit's unlikely tokens and re-denoise")
    mode.add_argument("--fill", action="store_true", help="fill placeholders: ..., pass  # TODO, <mask>")
    add_repair_margin_arg(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--dry-run", action="store_true", help="print a unified diff and a summary (the default)")
    out.add_argument("--write", action="store_true", help="rewrite files in place (atomically)")
    out.add_argument("--out", metavar="DIR", help="write a mirrored tree under DIR")
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching (repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching (repeatable)")
    p.add_argument("--no-gitignore", action="store_true", help="also convert files .gitignore lists")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run from its journal")
    p.add_argument("--restart", action="store_true", help="discard the journal and start over")
    p.add_argument("--journal", metavar="FILE", help="journal location (default: in the output location)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of diffs and a table")
    p.add_argument("--no-progress", action="store_true", help="no live progress bar")
    p.add_argument("--batch-size", type=int, default=16, help="spans per model call (default: 16)")
    p.add_argument("--batch-tokens", type=int, default=2048, help="span tokens per model call (default: 2048)")
    p.add_argument("--max-unit-tokens", type=int, default=192, help="longer units are split or left alone")
    p.add_argument("--window", type=int, default=64, help="units planned together; files are written as each ends")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: its address, auto, or local")
    p.add_argument("--ray-actors", type=int, default=0, help="model actors (0: one per GPU, else per CPU thread)")
    add_model_args(p)
    add_sampler_args(p)
    p.set_defaults(func=run)
