"""Next-edit suggestions: after the user changed one place, the places that should change the same way.

Candidates come from the newest hunk of the document's history (lsp_server/history.py), read as one of the
changes the model was trained on (model/edit_changes.py), tried in this order:
- a rename: one identifier became another; candidates are the old name's other whole-word uses;
- a removed parameter: a definition's parameter list lost one; candidates are the call sites, without that
  argument (by keyword, or by position when the call passes every parameter);
- a new call argument: text was added at the end of a call's arguments; candidates are the other calls of the same
  function, with the same argument added;
- a prefix: text such as `await ` or `self.` was put before a name; candidates are the name's other uses;
- a replacement of words: the other occurrences of the replaced text (a literal, an expression now wrapped in a
  call) get the new text;
- a pattern: the single-line statements beside the edited one with the same shape (tree-sitter, model/shapes.py)
  get the same edit at the same token positions (`a = row[0]` -> `a = row[0].strip()`, then `b = row[1]`);
- otherwise any other replacement, as above.
When no reading applies, the lines around the edit are the candidates (`nearby`): the model writes each of them
anew with the recent edits above it (`rewritten`), and a line it writes differently is judged like the others, at
a stricter margin, since the new text is the model's own and not a change the user already made.
The model then judges each one in place: the candidate's text is masked and the model, with the file as context,
scores the old and the new text twice, with the recent edits shown above the hole and without them; a suggestion
is kept only when the edits raise its preference for the new text by at least `margin` nats (see `judge`) and it
adds no parse error to the file. Each suggestion is returned as a minimal edit (the text both sides share is left
out, whole words kept whole).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from os.path import commonprefix

from lsp_server import context, spans
from lsp_server.history import Hunk
from lsp_server.languages import line_comment
from lsp_server.spans import Span
from model import shapes
from model.calls import call_at, calls_of, defined_at, enclosing_call, param_names
from model.edit_changes import site_without, with_argument
from model.edit_history import note_above, render_edits

MAX_CANDIDATES = 20
_PREFIX = re.compile(r"[A-Za-z_][\w.]*(?: |\.)")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CALL_OPENS = re.compile(r"[ \t]*\(")  # matched right after a name: the name is called there


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


@dataclass(frozen=True)
class Reading:
    """What a hunk is read as: the pair the model is shown, where the new text stands, and how to find the
    places to change the same way."""

    old: str
    new: str
    span: Span
    find: Callable[[], list[Candidate]]


def _whole_word(text: str, word: str) -> re.Pattern:
    return re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])")


def _as_rename(text: str, hunk: Hunk) -> Reading | None:
    rename = renamed(text, hunk)
    if rename is None:
        return None
    old, new, span = rename
    if span.start > 0 and text[span.start - 1] in "'\"" and text[span.end : span.end + 1] == text[span.start - 1]:
        return None  # a whole quoted text that happens to be a word: a changed literal, not a renamed name
    return Reading(old, new, span, lambda: [
        Candidate(Span(m.start(), m.end()), old, new) for m in _whole_word(text, old).finditer(text)
    ])


def _definition(text: str, start: int, end: int):
    """The definition's head `name(params)` whose parentheses hold `[start, end)`, or None."""
    call = enclosing_call(text, start, end)
    if call is None:
        return None
    return call if defined_at(text, call.start, ("def",)) else None


def _as_signature(text: str, hunk: Hunk) -> Reading | None:
    head = _definition(text, hunk.start, hunk.end)
    if head is None:
        return None
    name = text[head.start : head.open].strip()
    old_text = text[head.start : hunk.start] + hunk.old + text[hunk.end : head.end]
    old_head = call_at(old_text, 0, name)
    if old_head is None:
        return None
    old_params, new_params = param_names(old_text, old_head), param_names(text, head)
    removed = [i for i in range(len(old_params)) if old_params[:i] + old_params[i + 1 :] == new_params]
    if len(old_params) != len(new_params) + 1 or not removed:
        return None

    def find() -> list[Candidate]:
        found = []
        for call in calls_of(text, name):
            place = site_without(text, call, old_params, removed[0])
            if place is not None:
                found.append(Candidate(Span(call.start, call.end), text[call.start : call.end], place.new))
        return found

    return Reading(old_text, text[head.start : head.end], Span(head.start, head.end), find)


def _as_call_args(text: str, hunk: Hunk) -> Reading | None:
    call = enclosing_call(text, hunk.start, hunk.end)
    arg = hunk.new.strip().strip(",").strip()
    if hunk.old or not arg or call is None or _definition(text, hunk.start, hunk.end) is not None:
        return None
    if text[hunk.end : call.end - 1].strip() not in ("", ","):  # not added at the end of the arguments
        return None
    name = text[call.start : call.open].strip()
    key = arg.split("=")[0] + "=" if re.match(r"[A-Za-z_]\w*\s*=(?!=)", arg) else arg

    def find() -> list[Candidate]:
        return [
            Candidate(Span(c.start, c.end), text[c.start : c.end], with_argument(text, c, arg))
            for c in calls_of(text, name)
            if not any(text[a:b].startswith(key) for a, b in c.args)
        ]

    old = text[call.start : hunk.start] + text[hunk.end : call.end]
    return Reading(old, text[call.start : call.end], Span(call.start, call.end), find)


def _as_prefix(text: str, hunk: Hunk) -> Reading | None:
    """Text put before a name (`await `, `self.`): the name's other uses get it too; only its calls when the user
    put it before a call (`await fetch(...)` says nothing of `map(fetch, urls)`)."""
    word = _IDENT.match(text, hunk.end)
    starts_word = hunk.start == 0 or not (text[hunk.start - 1].isalnum() or text[hunk.start - 1] == "_")
    # One word or qualifier ending in a blank or a dot (`await `, `self.`, `np.`), not a line or a comment.
    if hunk.old or not _PREFIX.fullmatch(hunk.new) or word is None or not starts_word:
        return None
    name, prefix = word.group(), hunk.new
    called = _CALL_OPENS.match(text, word.end()) is not None

    def find() -> list[Candidate]:
        found = []
        for m in _whole_word(text, name).finditer(text):
            if text.endswith((prefix, "."), 0, m.start()) or defined_at(text, m.start()):
                continue
            if called and not _CALL_OPENS.match(text, m.end()):
                continue
            found.append(Candidate(Span(m.start(), m.end()), name, prefix + name))
        return found

    return Reading(name, prefix + name, Span(hunk.start, word.end()), find)


def _as_replacement(text: str, hunk: Hunk) -> Reading | None:
    old, new = hunk.old, hunk.new
    if not old.strip():  # a pure insertion names nothing to look for
        return None
    lead = r"(?<![\w])" if old[0].isalnum() or old[0] == "_" else ""
    tail = r"(?![\w])" if old[-1].isalnum() or old[-1] == "_" else ""
    pattern = re.compile(lead + re.escape(old) + tail)
    pre, post = (new.split(old, 1) if old in new else ("", ""))
    # The whole text between quotes replaced: only other quoted texts are candidates, not names spelt alike.
    quote = text[hunk.start - 1 : hunk.start] if hunk.start > 0 else ""
    quoted = quote in ("'", '"') and text[hunk.end : hunk.end + 1] == quote

    def find() -> list[Candidate]:
        found = []
        for m in pattern.finditer(text):
            if old in new and text[m.start() - len(pre) : m.end() + len(post)] == new:
                continue  # already changed (an expression already wrapped)
            if quoted and not (text[m.start() - 1 : m.start()] == quote == text[m.end() : m.end() + 1]):
                continue
            found.append(Candidate(Span(m.start(), m.end()), old, new))
        return found

    return Reading(old, new, Span(hunk.start, hunk.end), find)


def _as_word_replacement(text: str, hunk: Hunk) -> Reading | None:
    """A replacement whose old text holds a word: one worth looking for across the file (an operator is not)."""
    return _as_replacement(text, hunk) if re.search(r"\w\w", hunk.old) else None


def _as_pattern(text: str, hunk: Hunk, language: str | None) -> Reading | None:
    found = shapes.siblings(text, hunk.start, language)
    if found is None or not found[0][0] <= hunk.start <= hunk.end <= found[0][1]:
        return None
    (s0, s1), near = found
    old = text[s0 : hunk.start] + hunk.old + text[hunk.end : s1]
    at = hunk.start - s0
    found_places = []
    for a, b in near:
        carried = shapes.carry(old, at, at + len(hunk.old), hunk.new, text[a:b], language)
        if carried is not None and carried != text[a:b]:
            found_places.append(Candidate(Span(a, b), text[a:b], carried))
    if not found_places:
        return None
    return Reading(old, text[s0:s1], Span(s0, s1), lambda: found_places)


READERS = (_as_rename, _as_signature, _as_call_args, _as_prefix, _as_word_replacement, _as_pattern, _as_replacement)


def read(text: str, hunk: Hunk, language: str | None = "python") -> Reading | None:
    """The first reading of `hunk` that applies; None for an insertion none of them explains."""
    for reader in READERS:
        reading = reader(text, hunk, language) if reader is _as_pattern else reader(text, hunk)
        if reading is not None:
            return reading
    return None


def candidates(text: str, hunk: Hunk, cursor: int, language: str | None = "python") -> list[Candidate]:
    """Places to change like `hunk`, nearest the cursor first (at most MAX_CANDIDATES)."""
    reading = read(text, hunk, language)
    if reading is None:
        return []
    done = reading.span
    found = [c for c in reading.find() if c.span.end <= done.start or c.span.start >= done.end]
    found.sort(key=lambda c: abs(c.span.start - cursor))
    return found[:MAX_CANDIDATES]


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def minimal(text: str, span: Span, new: str) -> tuple[Span, str]:
    """The same edit without the text both sides share, widened to whole words where it splits one."""
    old = text[span.start : span.end]
    head = len(commonprefix([old, new]))
    tail = len(commonprefix([old[head:][::-1], new[head:][::-1]]))
    start, end = span.start + head, span.end - tail
    body = new[head : len(new) - tail]
    # Widen only where the changed text joins a word on that side (total -> total_sum: the whole name).
    while start > span.start and _word(text[start - 1]) and _word((body or text[start:end] or " ")[0]):
        start -= 1
        body = text[start] + body
    while end < span.end and _word(text[end]) and _word((body or text[start:end] or " ")[-1]):
        body += text[end]
        end += 1
    return Span(start, end), body


def judge(
    score: Callable[[list[tuple[str, str, str, str]]], list[float]],
    text: str,
    found: list[Candidate],
    pairs: list[tuple[str, str]],
    language: str | None,
    context_tokens: int,
    margin: float,
    should_stop: Callable[[], bool] | None = None,
    batch: int = 8,
) -> list[Suggestion]:
    """The candidates the history calls to change, best first. `score([(prefix, suffix, old, new), ...])` returns
    log p(new) - log p(old) for each hole between prefix and suffix; `pairs`: the history as `shown_edits` reads it.

    A candidate's gain is how much the recent edits shift the model towards the new text: its preference with the
    history above the hole minus its preference with none. The raw preference alone is biased by length (a
    shorter text costs fewer tokens, so deletions always win and insertions never do); the difference cancels
    that, and asks the question that matters: does what the user just did make this change likely? Both rows of
    `batch` candidates go in one model call."""
    items = []
    for cand in found:
        ctx = context.build(text, cand.span, context_tokens, language, None, None)
        items.append((with_history(ctx.prefix, pairs, language), ctx.suffix, cand.old, cand.new))
        items.append((ctx.prefix, ctx.suffix, cand.old, cand.new))
    gains: list[float] = []
    for i in range(0, len(items), 2 * batch):
        if should_stop is not None and should_stop():
            break
        both = score(items[i : i + 2 * batch])
        gains += [with_edits - without for with_edits, without in zip(both[::2], both[1::2])]
    kept = [
        Suggestion(*minimal(text, cand.span, cand.new), 1 / (1 + math.exp(-gain)), gain)
        for cand, gain in zip(found, gains)
        if gain >= margin
    ]
    return sorted((s for s in kept if keeps_syntax(text, s, language)), key=lambda s: -s.margin)


def keeps_syntax(text: str, suggestion: Suggestion, language: str | None) -> bool:
    """Whether the suggestion adds no parse error to the file (errors it already had elsewhere do not count;
    without a grammar, True): a suggestion that breaks the code is never offered."""
    a, b = suggestion.span.start, suggestion.span.end
    after = text[:a] + suggestion.new + text[b:]
    return not spans.added_errors(text, after, a, b, a + len(suggestion.new), language)


def suggest(
    score: Callable[[list[tuple[str, str, str, str]]], list[float]],
    write: Callable[[list[tuple[str, str, str]]], list[str]],
    text: str,
    hunks: list[Hunk],
    cursor: int,
    language: str | None,
    settings,
    should_stop: Callable[[], bool] | None = None,
) -> list[Suggestion]:
    """The suggestions for the newest hunk, best first: its candidates judged at `next_edit_margin`, or when no
    reading applies, the nearby lines the model writes differently, judged at `next_edit_rewrite_margin`.
    `settings` is the server's Settings (next_edit_* fields)."""
    s = settings
    pairs = shown_edits(text, hunks, language)  # read once, shown above every hole
    found = candidates(text, hunks[-1], cursor, language)[: max(1, s.next_edit_candidates)]
    margin = s.next_edit_margin
    if not found and s.next_edit_nearby_lines > 0:
        lines = nearby(text, hunks[-1], s.next_edit_nearby_lines)
        found = rewritten(write, text, lines, pairs, language, s.next_edit_context_tokens)
        margin = max(margin, s.next_edit_rewrite_margin)
    if not found:
        return []
    kept = judge(score, text, found, pairs, language, s.next_edit_context_tokens, margin, should_stop)
    return kept[: s.next_edit_max]


def nearby(text: str, hunk: Hunk, reach: int) -> list[Span]:
    """The non-blank lines within `reach` lines of the hunk's, not its own, as spans of their code (indentation
    and trailing blanks left out), nearest first."""
    here = text.count("\n", 0, hunk.start)
    last = text.count("\n", 0, hunk.end)
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    out = []
    for line in sorted(range(max(0, here - reach), min(len(starts), last + reach + 1)), key=lambda n: abs(n - here)):
        if here <= line <= last:
            continue
        a = starts[line]
        b = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
        code = text[a:b]
        if code.strip():
            lead = len(code) - len(code.lstrip())
            out.append(Span(a + lead, a + len(code.rstrip())))
    return out


def rewritten(
    write: Callable[[list[tuple[str, str, str]]], list[str]],
    text: str,
    places: list[Span],
    pairs: list[tuple[str, str]],
    language: str | None,
    context_tokens: int,
) -> list[Candidate]:
    """The lines the model writes differently from what stands there, with the recent edits (`pairs`, as
    `shown_edits` reads them) above each one. `write([(prefix, suffix, old), ...])` returns the model's text for
    each hole (one batch)."""
    items = []
    for span in places:
        ctx = context.build(text, span, context_tokens, language, None, None)
        items.append((with_history(ctx.prefix, pairs, language), ctx.suffix, text[span.start : span.end]))
    found = []
    for span, (_, _, old), new in zip(places, items, write(items) if items else []):
        if new.strip() and new.strip() != old.strip():
            found.append(Candidate(span, old, new.strip()))
    return found


def with_history(prefix: str, pairs: list[tuple[str, str]], language: str | None) -> str:
    """The recent edits as comment lines just above the candidate's line, where the model learned to read them."""
    return note_above(prefix, render_edits(pairs, line_comment(language)))


def shown_edits(text: str, hunks: list[Hunk], language: str | None = "python") -> list[tuple[str, str]]:
    """(old, new) per hunk as the model reads them, from the reading that finds its candidates: a rename as whole
    names (`total -> total_sum`, not `-> _sum`), a new argument or a removed parameter as the whole call or
    signature, a pattern as the whole statement, other edits as the text they replaced."""
    pairs = []
    for h in hunks:
        reading = read(text, h, language)
        pairs.append((reading.old, reading.new) if reading else (h.old, h.new))
    return pairs
