"""`instant-edit infill FILE --range L1:C1-L2:C2 | --at L:C`: fill a span of a file and print the result."""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import replace
from pathlib import Path

from lsp_server import actions
from lsp_server.cli.sampler_args import add_model_args, add_repair_margin_arg, add_sampler_args, sampler_from_args
from lsp_server.languages import detect_language
from lsp_server.spans import Span


class PositionError(ValueError):
    """A line:column that is malformed or lies outside the file."""


def parse_point(text: str) -> tuple[int, int]:
    try:
        line, col = text.split(":")
        point = int(line), int(col)
    except ValueError:
        raise PositionError(f"expected LINE:COLUMN, got {text!r}") from None
    if point[0] < 1 or point[1] < 1:
        raise PositionError(f"lines and columns are 1-based, got {text!r}")
    return point


def offset_of(source: str, line: int, col: int) -> int:
    """Character offset of a 1-based line and column (columns count characters; end of line allowed)."""
    lines = source.split("\n")
    if line > len(lines):
        raise PositionError(f"line {line} is past the end of the file ({len(lines)} lines)")
    if col > len(lines[line - 1]) + 1:
        raise PositionError(f"column {col} is past the end of line {line} ({len(lines[line - 1])} characters)")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


def span_offsets(source: str, args: argparse.Namespace) -> tuple[int, int]:
    if args.at:
        at = offset_of(source, *parse_point(args.at))
        return at, at
    try:
        start, end = args.range.split("-")
    except ValueError:
        raise PositionError(f"expected L1:C1-L2:C2, got {args.range!r}") from None
    a, b = offset_of(source, *parse_point(start)), offset_of(source, *parse_point(end))
    if b < a:
        raise PositionError(f"range end {end} comes before its start {start}")
    return a, b


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SystemExit(f"instant-edit: {path} is not UTF-8 text (byte {e.start}): nothing was changed") from None
    except OSError as e:
        raise SystemExit(f"instant-edit: cannot read {path}: {e.strerror}") from None


def run(args: argparse.Namespace) -> int:
    import model
    from model.checkpoint import CheckpointError

    path = Path(args.file)
    source = read_source(path)
    try:
        a, b = span_offsets(source, args)
    except PositionError as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    try:
        engine = model.load(
            args.model, device=args.device, context_tokens=args.context, allow_download=args.allow_download,
            dtype=args.dtype,
        )
    except CheckpointError as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    sampler = sampler_from_args(args)
    if args.repair:
        return _repair(engine, source, Span(a, b), path, sampler, args)
    if args.at and not args.allow_empty:  # as the editors' explicitly invoked completion: empty is not an answer
        sampler = replace(sampler, min_tokens=1)
    old = source[a:b]
    request = model.InfillRequest(source[:a], source[b:], old, budget=args.budget, single_line="\n" not in old)
    result = engine.infill(request, sampler)
    _emit(path, source, source[:a] + result.text + source[b:], args.diff)
    # The confidence is the least sure kept token's probability (the server's floors compare it); none when empty.
    sure = f", confidence {result.min_confidence:.2f}" if result.new_tokens else ""
    print(
        f"instant-edit: {result.new_tokens} tokens in {result.steps} steps, {result.nfe} model calls{sure}",
        file=sys.stderr,
    )
    return 0


def _repair(engine, source: str, span: Span, path: Path, sampler, args: argparse.Namespace) -> int:
    """The server's Repair (`actions.repair`: spelling fixes first, else reopen tokens far below the best
    alternative, then the syntax guard) with the command line's margins and context. An edit the guard refuses
    leaves the file as it was; the message says why."""
    target = actions.Target(source, span, detect_language(path=str(path)), path)
    gates = actions.Gates(repair_margin=args.repair_margin, spelling_margin=args.spelling_margin)
    opts = actions.Options(sampler=sampler, context_tokens=args.context, gates=gates)
    out = actions.repair(engine, target, opts)
    applied = out.new_text if out.replacements else target.old
    _emit(path, source, source[: span.start] + applied + source[span.end :], args.diff)
    print(f"instant-edit: {out.message}", file=sys.stderr)
    return 0


def _emit(path: Path, source: str, new_source: str, diff: bool) -> None:
    """The new file, or with `diff` the change as a unified diff."""
    if diff:
        sys.stdout.writelines(
            difflib.unified_diff(
                source.splitlines(keepends=True), new_source.splitlines(keepends=True), f"a/{path}", f"b/{path}"
            )
        )
    else:
        sys.stdout.write(new_source)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("infill", help="fill or rewrite a span of a file and print the new file")
    p.add_argument("file")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--range", help="1-based L1:C1-L2:C2 (end exclusive) to rewrite")
    where.add_argument("--at", help="1-based L:C to insert at")
    p.add_argument("--diff", action="store_true", help="print a unified diff instead of the new file")
    p.add_argument("--repair", action="store_true", help="keep the span, reopen only its unlikely tokens")
    add_repair_margin_arg(p)
    p.add_argument("--budget", type=int, default=0, help="span budget in tokens (0: guess)")
    p.add_argument(
        "--allow-empty", action="store_true",
        help="with --at: let the model answer nothing (by default an insertion says at least one token)",
    )
    add_model_args(p)
    add_sampler_args(p)
    p.set_defaults(func=run)
