"""Training and evaluation examples: where to cut a hole in real code, and how to lay it out as token ids.

Two shapes. Plain masked diffusion (MDLM/LLaDA): a window of a file with a random share of its tokens masked.
Span infill, the shape the server sends: prefix ids, a span budget holding the true span followed by pad, and
suffix ids; only span positions are masked. Prefix, span and suffix are tokenized separately, exactly as the
engine does at inference, so token boundaries at the span edges look the same in training and in use.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from model.requests import bucket_for
from model.tokenizer import CodeTokenizer

SPAN_KINDS = ("line", "line_tail", "lines", "syntax", "random")
MAX_SPAN_TOKENS = 200
CHARS_PER_TOKEN_BOUND = 8  # generous: how many characters of context to cut before tokenizing


@dataclass(frozen=True)
class CharSpan:
    """A hole in a file, in character offsets; `kind` names how it was chosen."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class InfillLayout:
    """Token ids of one infill example: `ids[span_start:span_start+budget]` is the span region."""

    ids: list[int]
    span_start: int
    budget: int
    truth_len: int  # tokens of real span text; the rest of the budget is pad


def line_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each line's content, the newline excluded."""
    bounds, pos = [], 0
    for line in text.split("\n"):
        bounds.append((pos, pos + len(line)))
        pos += len(line) + 1
    return bounds


def content_start(text: str, start: int, end: int) -> int:
    """Offset of the first non-blank character of a line (its indentation stays in the prefix)."""
    while start < end and text[start] in " \t":
        start += 1
    return start


def pick_line(text: str, rng: random.Random) -> CharSpan | None:
    lines = [(s, e) for s, e in line_bounds(text) if text[s:e].strip()]
    if not lines:
        return None
    s, e = rng.choice(lines)
    return CharSpan(content_start(text, s, e), e, "line")


def pick_line_tail(text: str, rng: random.Random) -> CharSpan | None:
    """The rest of a line after a cursor: the inline-completion shape (may be empty)."""
    lines = [(s, e) for s, e in line_bounds(text) if text[s:e].strip()]
    if not lines:
        return None
    s, e = rng.choice(lines)
    s = content_start(text, s, e)
    cursor = rng.randint(s, e)
    return CharSpan(cursor, e, "line_tail")


def pick_lines(text: str, rng: random.Random) -> CharSpan | None:
    bounds = line_bounds(text)
    if len(bounds) < 3:
        return None
    i = rng.randrange(len(bounds) - 1)
    j = min(len(bounds) - 1, i + rng.randint(1, 7))
    start = content_start(text, *bounds[i])
    return CharSpan(start, bounds[j][1], "lines")


def random_span(text: str, rng: random.Random) -> CharSpan | None:
    start = rng.randrange(len(text))
    return CharSpan(start, min(len(text), start + rng.randint(0, 120)), "random")


def syntax_nodes(text: str, language: str) -> list[tuple[int, int]]:
    """Character ranges of named statement-sized nodes, from tree-sitter (empty when no grammar)."""
    from model import syntax  # tree-sitter stays out of the inference path

    return syntax.statement_ranges(text, language)


def pick_syntax(text: str, language: str, rng: random.Random) -> CharSpan | None:
    nodes = [(s, e) for s, e in syntax_nodes(text, language) if 0 < e - s <= 600]
    if not nodes:
        return None
    s, e = rng.choice(nodes)
    return CharSpan(s, e, "syntax")


def pick_span(text: str, language: str, kind: str, rng: random.Random) -> CharSpan | None:
    if kind == "line":
        return pick_line(text, rng)
    if kind == "line_tail":
        return pick_line_tail(text, rng)
    if kind == "lines":
        return pick_lines(text, rng)
    if kind == "syntax":
        return pick_syntax(text, language, rng)
    if kind == "random":
        return random_span(text, rng)
    raise ValueError(f"unknown span kind {kind!r}")


def choose_budget(truth_len: int, rng: random.Random) -> int:
    """A span budget at least as long as the truth, as the server would guess it: loose, sometimes bucketed."""
    if rng.random() < 0.5 and (bucket := bucket_for(truth_len)) is not None:
        return bucket
    return max(1, truth_len + rng.randint(0, max(4, truth_len)))


def layout_infill(
    tok: CodeTokenizer,
    prefix: str,
    span: str,
    suffix: str,
    budget: int,
    seq_len: int,
    prefix_share: float = 0.5,
) -> InfillLayout | None:
    """Lay out prefix / span+pad / suffix within `seq_len` tokens; None when the span does not fit its budget.

    The prefix keeps its tail and the suffix its head; a document edge that falls inside the window is marked
    with the eos token, as the engine does.
    """
    sp = tok.special
    cut = seq_len * CHARS_PER_TOKEN_BOUND
    span_ids = tok.encode(span)
    if len(span_ids) > budget or budget >= seq_len:
        return None
    pre_ids = tok.encode(prefix[-cut:])
    suf_ids = tok.encode(suffix[:cut])
    if len(prefix) <= cut:
        pre_ids = [sp.bos] + pre_ids
    if len(suffix) <= cut:
        suf_ids = suf_ids + [sp.eos]
    room = seq_len - budget
    n_pre = min(len(pre_ids), max(int(room * prefix_share), room - len(suf_ids)))
    n_suf = min(len(suf_ids), room - n_pre)
    ids = pre_ids[len(pre_ids) - n_pre :] + span_ids + [sp.pad] * (budget - len(span_ids)) + suf_ids[:n_suf]
    return InfillLayout(ids, n_pre, budget, len(span_ids))


def infill_example(
    tok: CodeTokenizer, text: str, language: str, seq_len: int, rng: random.Random, kinds=SPAN_KINDS
) -> tuple[InfillLayout, CharSpan] | None:
    kind = rng.choice(kinds)
    hole = pick_span(text, language, kind, rng)
    if hole is None:
        return None
    truth = text[hole.start : hole.end]
    truth_len = len(tok.encode(truth))
    if truth_len > MAX_SPAN_TOKENS:
        return None
    budget = choose_budget(truth_len, rng)
    layout = layout_infill(
        tok, text[: hole.start], truth, text[hole.end :], budget, seq_len, prefix_share=rng.uniform(0.3, 0.8)
    )
    return (layout, hole) if layout else None


def window_example(tok: CodeTokenizer, text: str, seq_len: int, rng: random.Random) -> list[int]:
    """A random window of a file's tokens for the plain masked-diffusion objective."""
    start = rng.randrange(len(text))
    start = text.rfind("\n", 0, start) + 1  # windows begin at a line start, like the server's prefixes
    ids = tok.encode(text[start : start + seq_len * CHARS_PER_TOKEN_BOUND])
    if start == 0:
        ids = [tok.special.bos] + ids
    return ids[:seq_len]


@dataclass(frozen=True)
class MultiInfillLayout:
    """Token ids of a row with several holes: `holes` are (start, budget) span regions, in order."""

    ids: list[int]
    holes: list[tuple[int, int]]


DENSE_KINDS = ("line", "line_tail", "lines", "random")


def pick_holes(text: str, language: str, count: int, rng: random.Random) -> list[CharSpan]:
    """Up to `count` non-overlapping holes in `text`, in order, none touching the next (context between them)."""
    holes: list[CharSpan] = []
    for _ in range(count * 3):
        if len(holes) == count:
            break
        hole = pick_span(text, language, rng.choice(DENSE_KINDS), rng)
        if hole is None or hole.end - hole.start > MAX_SPAN_TOKENS * 2:
            continue
        if all(hole.end < h.start or hole.start > h.end for h in holes):
            holes.append(hole)
    return sorted(holes, key=lambda h: h.start)


def multi_infill_example(
    tok: CodeTokenizer, text: str, language: str, seq_len: int, rng: random.Random, count: int
) -> MultiInfillLayout | None:
    """A window of a file with `count` holes, each a budget of truth then pad, laid out as the engine would.

    Context pieces and hole texts are tokenized separately, as the engine does at a span's edges. A row keeps
    the holes that fit in `seq_len`; None when none does.
    """
    sp = tok.special
    start = text.rfind("\n", 0, rng.randrange(len(text))) + 1
    window = text[start : start + seq_len * 4]
    holes = pick_holes(window, language, count, rng)
    ids = [sp.bos] if start == 0 else []
    regions: list[tuple[int, int]] = []
    pos = 0
    for hole in holes:
        truth_ids = tok.encode(window[hole.start : hole.end])
        budget = choose_budget(len(truth_ids), rng)
        before = tok.encode(window[pos : hole.start])
        if len(truth_ids) > MAX_SPAN_TOKENS or len(ids) + len(before) + budget + 1 > seq_len:
            break
        ids += before
        regions.append((len(ids), budget))
        ids += truth_ids + [sp.pad] * (budget - len(truth_ids))
        pos = hole.end
    if not regions:
        return None
    tail = tok.encode(window[pos:])
    if start + len(window) >= len(text):
        tail.append(sp.eos)
    ids += tail[: seq_len - len(ids)]
    return MultiInfillLayout(ids, regions)
