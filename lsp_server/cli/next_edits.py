"""`instant-edit next-edits FILE --edit L1:C1-L2:C2=TEXT ...`: make your edits, print the ones they call for.

The edits are made in order, each on the text the ones before it left (as a user makes them), and recorded
into an edit history as the server records didChange; the candidates of the last one are judged by the model
as `instantEdit/nextEdits` judges them (lsp_server/next_edits.suggest, the server's default settings, all of the
candidates rather than the nearest 8).
Nothing is written: the suggestions are printed, or with `--diff`, the file after your edits and the suggestions
as a unified diff against the file as it was.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import replace
from pathlib import Path

from lsp_server import next_edits
from lsp_server.cli.infill import PositionError, offset_of, parse_point, read_source
from lsp_server.cli.sampler_args import add_model_args
from lsp_server.history import History
from lsp_server.languages import detect_language
from lsp_server.settings import Settings
from lsp_server.spans import Span


def parse_edit(text: str, spec: str) -> tuple[int, int, str]:
    """`L1:C1-L2:C2=TEXT` (1-based, end exclusive; `\\n` in TEXT is a line break) as offsets in `text`."""
    where, sep, new = spec.partition("=")
    if not sep:
        raise PositionError(f"expected L1:C1-L2:C2=TEXT, got {spec!r}")
    start, dash, end = where.partition("-")
    a = offset_of(text, *parse_point(start))
    b = offset_of(text, *parse_point(end)) if dash else a
    if b < a:
        raise PositionError(f"edit end {end} comes before its start {start}")
    return a, b, new.replace("\\n", "\n")


def run(args: argparse.Namespace) -> int:
    import model
    from model import scoring
    from model.checkpoint import CheckpointError

    path = Path(args.file)
    original = text = read_source(path)
    history, cursor = History(), 0
    try:
        for i, spec in enumerate(args.edit):
            a, b, new = parse_edit(text, spec)
            history.record(text, a, b, new, now=10.0 * i)  # separate edits, as a user makes them
            text, cursor = text[:a] + new + text[b:], a + len(new)
    except PositionError as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    language = detect_language(path=str(path))
    if not history.hunks:
        print("instant-edit: the edits changed nothing", file=sys.stderr)
        return 0
    found = next_edits.candidates(text, history.last(), cursor, language)
    nearby = [] if found else next_edits.nearby(text, history.last(), args.nearby)
    if not found and not nearby:
        print("instant-edit: the edits call for no change elsewhere (no candidates)", file=sys.stderr)
        return 0
    try:
        engine = model.load(args.model, device=args.device, context_tokens=args.context, dtype=args.dtype)
    except CheckpointError as e:
        print(f"instant-edit: {e}", file=sys.stderr)
        return 2
    # The server's rules, every candidate judged and shown (a batch tool has no need to stop at the nearest few).
    settings = replace(
        Settings(), next_edit_margin=args.margin, next_edit_candidates=next_edits.MAX_CANDIDATES,
        next_edit_max=next_edits.MAX_CANDIDATES,
        next_edit_context_tokens=min(Settings.next_edit_context_tokens, args.context),
        next_edit_nearby_lines=args.nearby,
    )

    def score(items: list[tuple[str, str, str, str]]) -> list[float]:
        return scoring.preferences(engine, items, settings.next_edit_context_tokens)

    def write(items: list[tuple[str, str, str]]) -> list[str]:
        return scoring.rewrites(engine, items, settings.next_edit_context_tokens)

    kept = next_edits.suggest(score, write, text, history.hunks, cursor, language, settings)
    if args.diff:
        after = text
        for s in sorted(kept, key=lambda s: -s.span.start):
            after = after[: s.span.start] + s.new + after[s.span.end :]
        sys.stdout.writelines(difflib.unified_diff(
            original.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        ))
    else:
        for s in kept:
            print(f"{_point(text, s.span)}  {text[s.span.start : s.span.end]!r} -> {s.new!r}  (gain {s.margin:+.2f})")
    if found:
        print(f"instant-edit: {len(kept)} of {len(found)} candidates suggested (margin {args.margin:g})", file=sys.stderr)
    else:
        print(f"instant-edit: the edits match no known change; {len(kept)} of the {len(nearby)} lines around them "
              f"written anew suggested (margin {max(args.margin, settings.next_edit_rewrite_margin):g})", file=sys.stderr)
    return 0


def _point(text: str, span: Span) -> str:
    """1-based L:C-L:C of a span."""

    def at(offset: int) -> str:
        line, line_start = text.count("\n", 0, offset) + 1, text.rfind("\n", 0, offset) + 1
        return f"{line}:{offset - line_start + 1}"

    return f"{at(span.start)}-{at(span.end)}"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("next-edits", help="make edits to a file and print the edits they call for elsewhere")
    p.add_argument("file")
    p.add_argument("--edit", action="append", required=True, metavar="L1:C1-L2:C2=TEXT",
                   help="an edit you make (1-based, end exclusive; L:C=TEXT inserts); repeat in the order you make them")
    p.add_argument("--margin", type=float, default=Settings.next_edit_margin,
                   help=f"keep a suggestion when the edits move the model towards it by this many nats "
                        f"(default {Settings.next_edit_margin:g}, the server's)")
    p.add_argument("--nearby", type=int, default=Settings.next_edit_nearby_lines, metavar="N",
                   help="when the edits match no known change, let the model write the N lines around them anew "
                        f"(default {Settings.next_edit_nearby_lines}, the server's: off)")
    p.add_argument("--diff", action="store_true", help="print your edits and the suggestions as a unified diff")
    add_model_args(p)
    p.set_defaults(func=run)
