"""Next-edit suggestions: after the user changed one place, the places that should change the same way.

Candidates come from the newest hunk of the document's history (lsp_server/history.py): other occurrences of the
identifier it renamed, or of the text it replaced. The model then judges each one in place: the candidate's
text is masked and the model, with the file and the recent edits as context, scores the old and the new text;
a suggestion is kept only when it prefers the new text by `margin` nats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server import context
from lsp_server.history import Hunk
from lsp_server.languages import line_comment
from lsp_server.spans import Span
from model.edit_history import note_above, render_edits

MAX_CANDIDATES = 20
_IDENT = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Candidate:
    span: Span  # what would be replaced, in the current document
    old: str
    new: str


@dataclass(frozen=True)
class Suggestion:
    span: Span
    new: str
    confidence: float  # the model's preference for the new text over the old, as a two-way probability
    margin: float  # log p(new) - log p(old), nats


def _word_around(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return start, end


def renamed(text: str, hunk: Hunk) -> tuple[str, str, Span] | None:
    """(old name, new name, where the new name stands) when the hunk changed one identifier into another."""
    lo, hi = _word_around(text, hunk.start, hunk.end)
    new = text[lo:hi]
    old = text[lo : hunk.start] + hunk.old + text[hunk.end : hi]
    if old != new and _IDENT.fullmatch(old) and _IDENT.fullmatch(new):
        return old, new, Span(lo, hi)
    return None


def candidates(text: str, hunk: Hunk, cursor: int) -> list[Candidate]:
    """Places to change like `hunk`, nearest the cursor first (at most MAX_CANDIDATES)."""
    rename = renamed(text, hunk)
    if rename is not None:
        old, new, done = rename
        pattern = re.compile(rf"(?<![\w]){re.escape(old)}(?![\w])")
    elif hunk.old.strip():
        old, new, done = hunk.old, hunk.new, Span(hunk.start, hunk.end)
        pattern = re.compile(re.escape(old))
    else:  # a pure insertion names nothing to look for
        return []
    found = [
        Candidate(Span(m.start(), m.end()), old, new)
        for m in pattern.finditer(text)
        if m.end() <= done.start or m.start() >= done.end
    ]
    found.sort(key=lambda c: abs(c.span.start - cursor))
    return found[:MAX_CANDIDATES]


def judge(
    score: Callable[[list[tuple[str, str, str, str]]], list[float]],
    text: str,
    found: list[Candidate],
    hunks: list[Hunk],
    language: str | None,
    context_tokens: int,
    margin: float,
    should_stop: Callable[[], bool] | None = None,
    batch: int = 8,
) -> list[Suggestion]:
    """The candidates the model prefers changed, best first. `score([(prefix, suffix, old, new), ...])` returns
    log p(new) - log p(old) for each hole between prefix and suffix (one batched model call per `batch`)."""
    pairs = shown_edits(text, hunks)
    items = []
    for cand in found:
        ctx = context.build(text, cand.span, context_tokens, language, None, None)
        items.append((with_history(ctx.prefix, pairs, language), ctx.suffix, cand.old, cand.new))
    gains: list[float] = []
    for i in range(0, len(items), batch):
        if should_stop is not None and should_stop():
            break
        gains += score(items[i : i + batch])
    kept = [
        Suggestion(cand.span, cand.new, 1 / (1 + math.exp(-gain)), gain)
        for cand, gain in zip(found, gains)
        if gain >= margin
    ]
    return sorted(kept, key=lambda s: -s.margin)


def with_history(prefix: str, pairs: list[tuple[str, str]], language: str | None) -> str:
    """The recent edits as comment lines just above the candidate's line, where the model learned to read them."""
    return note_above(prefix, render_edits(pairs, line_comment(language)))


def shown_edits(text: str, hunks: list[Hunk]) -> list[tuple[str, str]]:
    """(old, new) per hunk as the model reads them: a rename as whole names (`total -> total_sum`, not
    `-> _sum`), other edits as the text they replaced."""
    pairs = []
    for h in hunks:
        rename = renamed(text, h)
        pairs.append(rename[:2] if rename else (h.old, h.new))
    return pairs
