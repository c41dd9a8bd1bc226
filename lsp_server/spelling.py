"""Misspelt words in a span: the program proposes corrections, the model chooses among them.

A word is a suspect when it is not a known word and appears nowhere else in the document (a misspelt name is
almost always unique: the right spelling is used elsewhere), or lies next to a keyword on a line that does not
parse, however often it appears. Its candidates are the known words one keystroke away
(optimal string alignment distance 1: two neighbouring letters swapped, a letter dropped, added or changed).
Known words: the document's other words, the language's keywords (the grammar's keyword tokens; for Python also
its builtins), and the names the workspace defines.

The model's part: each candidate is put in the word's place and scored against the word as written with the
span masked (`model.scoring.preferences`, one batched call for all), and the best candidate is taken when the
model prefers it by at least a margin. So a unique but correct name with a near neighbour (`default_a` beside
`default_b`) stays, while `retrun` becomes `return`.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from lsp_server import spans
from lsp_server.spans import Span
from model.scoring import preferences

WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_DIGITS = re.compile(r"[0-9]")
MIN_LENGTH = 3  # shorter words have too many neighbours one keystroke away (`id`, `if`, `in`, `is`)
MAX_DISTANCE = 1  # keyboard slips are one edit; at two, common short names start to look alike
BATCH = 16  # candidates scored per model call: a long unit in `convert --repair` can hold hundreds


@dataclass(frozen=True)
class Suspect:
    """A word of the span that may be misspelt: where it is in the document and what it may have meant."""

    start: int
    end: int
    word: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Fix:
    """A correction the model chose: document offsets of the word, and log p(new) - log p(old) in nats."""

    start: int
    end: int
    old: str
    new: str
    gain: float


@lru_cache(maxsize=32)
def keywords(language: str | None) -> frozenset[str]:
    """The language's keywords: its grammar's anonymous word tokens (`return`, `function`, `elseif`...)."""
    words: set[str] = set()
    if language:
        try:
            from tree_sitter_language_pack import get_language

            grammar = get_language(language)
        except (LookupError, ValueError):  # no grammar for this language: the document's words still count
            grammar = None
        if grammar is not None:
            for i in range(grammar.node_kind_count):
                kind = grammar.node_kind_for_id(i) or ""
                if not grammar.node_kind_is_named(i) and grammar.node_kind_is_visible(i) and WORD.fullmatch(kind):
                    words.add(kind)
    if language == "python":  # True/False/None are named nodes in the grammar, not keyword tokens
        words |= set(keyword.kwlist) | set(keyword.softkwlist)
    return frozenset(words)


def builtin_names(language: str | None) -> frozenset[str]:
    """Names every program of the language can use without defining them (Python's builtins)."""
    return frozenset(dir(builtins)) if language == "python" else frozenset()


def suspects(text: str, span: Span, language: str | None, names: Iterable[str] = ()) -> list[Suspect]:
    """Words of `text[span]` that are not known and lie one keystroke from a known word: a word used once, or a
    word next to a keyword on a line that does not parse (`retrun a` is wrong however often it is written).
    Strings and comments are prose, not code: skipped."""
    counts = Counter(WORD.findall(text))
    syntax = keywords(language)
    known = syntax | builtin_names(language) | set(names)
    vocabulary, keyword_list = list(set(counts) | known), list(syntax)
    found = []
    for m in WORD.finditer(text, span.start, span.end):
        word = m.group()
        if len(word) < MIN_LENGTH or word in known:
            continue
        repeated = counts[word] > 1
        near = process.extract(
            word, keyword_list if repeated else vocabulary, scorer=OSA.distance, score_cutoff=MAX_DISTANCE, limit=None
        )
        near = sorted(c for c, _, _ in near if c != word and first_letter_kept(word, c) and not variant(word, c))
        if not near or spans._in_string_or_comment(text, m.start() + 1, language):
            continue
        if repeated and not spans.error_spans(text, language, spans.line_span(text, Span(m.start(), m.end()))):
            continue  # a name used twice on lines that parse is a name (`types` beside the keyword `type`)
        found.append(Suspect(m.start(), m.end(), word, tuple(near)))
    return found


def variant(word: str, other: str) -> bool:
    """Two names that differ only in case, in underscores at their ends, in digits or in a plural `s` are
    variants a program uses on purpose (`Handle` / `handle`, `_start` / `start`, `rc1` / `rc`, `types` / `type`),
    not slips of the keyboard."""
    return (
        word.lower() == other.lower()
        or word.strip("_") == other.strip("_")
        or _DIGITS.sub("", word) == _DIGITS.sub("", other)
        or word.rstrip("s") == other.rstrip("s")
    )


def first_letter_kept(word: str, other: str) -> bool:
    """A misspelt word almost always keeps its first letter (or swaps the first two): `rstrip` is not a slip
    for `strip`, nor `Lock` for `sock`."""
    return word[0] == other[0] or (word[:2] == other[1::-1] and word[2:] == other[2:])


def proposals(text: str, span: Span, language: str | None, names: Iterable[str] = ()) -> list[Suspect]:
    """The suspects with the candidates the grammar allows (a keyword that would add a parse error is dropped);
    suspects left with none are dropped too. What the model then chooses from (`choose`)."""
    syntax = keywords(language)
    out = []
    for s in suspects(text, span, language, names):
        allowed = tuple(c for c in s.candidates if not (c in syntax and breaks(text, s, c, language)))
        if allowed:
            out.append(replace(s, candidates=allowed))
    return out


def choose(
    engine, text: str, proposed: list[Suspect], margin: float, context_tokens: int | None = None
) -> list[Fix]:
    """The corrections the model prefers by at least `margin` nats, at most one per suspect word."""
    items = [(text[: s.start], text[s.end :], s.word, c) for s in proposed for c in s.candidates]
    owners = [s for s in proposed for _ in s.candidates]
    gains: list[float] = []
    for i in range(0, len(items), BATCH):
        gains += preferences(engine, items[i : i + BATCH], context_tokens)
    best: dict[int, Fix] = {}
    for s, (_, _, _, new), gain in zip(owners, items, gains):
        if gain >= margin and (s.start not in best or gain > best[s.start].gain):
            best[s.start] = Fix(s.start, s.end, s.word, new, gain)
    return [best[k] for k in sorted(best)]


def fixes(
    engine,
    text: str,
    span: Span,
    language: str | None,
    margin: float,
    context_tokens: int | None = None,
    names: Iterable[str] = (),
) -> list[Fix]:
    """The corrections of `text[span]` the model prefers by at least `margin` nats (`proposals`, then `choose`)."""
    return choose(engine, text, proposals(text, span, language, names), margin, context_tokens)


def fix_requests(
    engine, requests: list, languages: list[str | None], margin: float, context_tokens: int | None = None
) -> list[list[Fix]]:
    """`fixes` for each repair request (prefix, span, suffix) of a batch, in the offsets of its span."""
    out = []
    for r, language in zip(requests, languages):
        text, start = r.prefix + r.span + r.suffix, len(r.prefix)
        found = fixes(engine, text, Span(start, start + len(r.span)), language, margin, context_tokens)
        out.append([Fix(f.start - start, f.end - start, f.old, f.new, f.gain) for f in found])
    return out


def confidence(chosen: list[Fix]) -> float:
    """How sure the model is of the least sure correction: p(new) / (p(new) + p(old)), from its gain."""
    return min(1.0 / (1.0 + math.exp(-f.gain)) for f in chosen)


def breaks(text: str, suspect: Suspect, keyword_: str, language: str | None) -> bool:
    """Putting a keyword in the word's place adds a parse error. The model once preferred `async def async(self)`
    to a correct `async def asyncf(self)` by 4.9 nats; the grammar knows better."""
    after = text[: suspect.start] + keyword_ + text[suspect.end :]
    end = suspect.start + len(keyword_)
    return bool(spans.added_errors(text, after, suspect.start, suspect.end, end, language))


def apply(text: str, span: Span, chosen: list[Fix]) -> str:
    """The span's text with the corrections made."""
    out, at = [], span.start
    for f in chosen:
        out += [text[at : f.start], f.new]
        at = f.end
    return "".join(out) + text[at : span.end]


def describe(chosen: list[Fix]) -> str:
    """`retrun -> return (+12.3 nats)`, for the action's message."""
    return ", ".join(f"{f.old} -> {f.new} ({f.gain:+.1f} nats)" for f in chosen)


def names_taken_away(prefix: str, old: str, new: str, suffix: str) -> list[str]:
    """Words that rewriting `old` as `new` takes away although the text around it (`prefix`, `suffix`) uses them.

    Such a word is a name the program defines or uses, not a slip of the keyboard (a misspelt name is almost always
    unique; `suspects` rests on the same fact), so a Repair that changes it guesses rather than fixes: session 30's
    candidate turned a correct `quopri.decode(f, g)` into `quopri.decode(f, errors)`, `g = BytesIO()` one line
    above it, 10 nats sure."""
    around = Counter(WORD.findall(prefix)) + Counter(WORD.findall(suffix))
    gone = Counter(WORD.findall(old)) - Counter(WORD.findall(new))
    return sorted(w for w in gone if around[w])


def names_note(names: list[str]) -> str:
    """Why a Repair that would take these names away answers nothing, for the action's message."""
    return f"the model would change {', '.join(names)}, which the file uses elsewhere: a name, not a slip"
