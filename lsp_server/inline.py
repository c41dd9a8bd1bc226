"""Inline completion decisions that need no model: where the hole goes, when typing should not ask, typing
through a suggestion already shown, and how long to wait before asking.

Offsets are Python string offsets into the document's text. The handlers turn them into LSP ranges.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from lsp_server.spans import BLOCK_OPENERS, Span

DEFAULT_INDENT = "    "
# Text right of the cursor that a completion may sit before without harm: closing brackets and quotes, and
# punctuation that ends a statement. Anything else is code the user already wrote.
CLOSERS = set(")]}>'\"`;:,. \t")
# A typing-triggered request is skipped when more than this many characters of code stand right of the cursor:
# a suggestion inserted in the middle of a written line mostly breaks it.
MAX_CODE_RIGHT = 2
_INDENT = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class Hole:
    """Where a completion goes.

    `text` / `offset`: the document and insertion point the model sees. On a whitespace-only line the line holds
    exactly its indentation and the cursor stands after it, so the model writes code, not indentation.
    `replace`: what the answer replaces in the real document; `lead`: what the answer starts with before the
    model's text (the part of the indentation that is not left of the cursor yet).
    """

    text: str
    offset: int
    replace: Span
    lead: str = ""

    def answer(self, completion: str) -> str:
        return self.lead + completion if completion else ""


def hole_at(text: str, offset: int) -> Hole:
    """The hole for a completion at `offset`: the plain insertion point, or, on a whitespace-only line, the line
    normalised to its indentation (the line's own whitespace when it has some, else the block's)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    if line.strip():
        return Hole(text, offset, Span(offset, offset))
    indent = line or expected_indent(text, line_start)
    column = offset - line_start
    model_text = text[:line_start] + indent + text[line_end:]
    if column > len(indent):  # the cursor stands beyond the indentation: keep it where it is
        return Hole(text, offset, Span(offset, offset))
    return Hole(model_text, line_start + len(indent), Span(offset, line_end), indent[column:])


def expected_indent(text: str, line_start: int) -> str:
    """The indentation an empty line at `line_start` gets: the previous code line's, one level deeper after a
    block opener (`:`, `{`, `(`, `[`)."""
    previous = [ln for ln in text[:line_start].split("\n") if ln.strip()]
    if not previous:
        return ""
    last = previous[-1]
    indent = _INDENT.match(last).group()
    if last.rstrip().endswith(BLOCK_OPENERS):
        return indent + indent_unit(text)
    return indent


def indent_unit(text: str) -> str:
    """The file's indentation step: a tab when lines are tab-indented, else the smallest positive space count."""
    widths = set()
    for line in text.split("\n"):
        if not line.strip():
            continue
        indent = _INDENT.match(line).group()
        if indent.startswith("\t"):
            return "\t"
        if indent:
            widths.add(len(indent))
    return " " * min(widths) if widths else DEFAULT_INDENT


def code_right_of(text: str, offset: int) -> str:
    """The code right of the cursor on its line, closing brackets, quotes and statement punctuation left out."""
    end = text.find("\n", offset)
    rest = text[offset : len(text) if end < 0 else end]
    return "".join(ch for ch in rest if ch not in CLOSERS)


def typing_should_ask(text: str, offset: int) -> bool:
    """Whether a typing-triggered request is worth a model call here (explicit requests always are)."""
    return len(code_right_of(text, offset)) <= MAX_CODE_RIGHT


# --- typing through a suggestion ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """The last suggestion answered for a document: `insert` replaces `replace` of `text` (the cursor stood at
    the replaced part's start)."""

    text: str
    replace: Span
    insert: str
    confidence: float | None = None

    @property
    def offset(self) -> int:
        return self.replace.start


def typed_through(shown: Shown, text: str, offset: int) -> str | None:
    """The rest of `shown` when the document is its original with the suggestion's first characters in place of
    the replaced part and the cursor after them (typing into it, a partial accept, or backspacing within it,
    back to where it was asked); None otherwise.

    A suggestion typed to its end has no rest: the next request is a new one (prepared in the background).
    """
    start, end = shown.replace.start, shown.replace.end
    typed = len(text) - (len(shown.text) - (end - start))
    if not 0 <= typed < len(shown.insert) or offset != start + typed:
        return None
    if text[start:offset] != shown.insert[:typed]:
        return None
    if not (text.startswith(shown.text[:start]) and text.endswith(shown.text[end:])):
        return None
    if typed == 0 and end > start:  # the replaced part is gone, nothing typed in its place: not this suggestion
        return None
    return shown.insert[typed:]


def accepted(shown: Shown) -> tuple[str, int]:
    """The document and cursor after the whole suggestion is accepted."""
    start, end = shown.replace.start, shown.replace.end
    return shown.text[:start] + shown.insert + shown.text[end:], start + len(shown.insert)


# --- the debounce ---------------------------------------------------------------------------------------------
@dataclass
class Debounce:
    """How long a typing-triggered request that the cache cannot answer waits before it asks the model.

    Fixed when `fixed_ms` >= 0. Otherwise it follows the user and the machine. A request started at once costs
    the user nothing when the next key supersedes it (its run stops within a step), so it waits only when the
    model is much slower than the typing (more than two gaps between keys): then most runs would be thrown
    away, and each would hold the worker for its first, uninterruptible pass. It waits a little longer than a
    gap. With a 4x looser rule (wait when the model takes over half a gap), waiting added 105 ms to the median
    miss of the typing replay (`instant-edit bench --lsp --typing`, 60 ms between keys).
    """

    fixed_ms: float = -1.0
    gap_ms: float = 0.0  # moving average of the gaps between edits within a burst of typing
    model_ms: float = 0.0  # moving average of a model completion's time
    last_edit: float = 0.0
    max_ms: float = 300.0
    burst_ms: float = 1000.0  # a longer gap is a pause, not typing speed

    def edited(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        gap = (now - self.last_edit) * 1000
        if 0 < gap < self.burst_ms:
            self.gap_ms = gap if not self.gap_ms else 0.8 * self.gap_ms + 0.2 * gap
        self.last_edit = now

    def answered(self, ms: float) -> None:
        self.model_ms = ms if not self.model_ms else 0.8 * self.model_ms + 0.2 * ms

    def delay_ms(self) -> float:
        if self.fixed_ms >= 0:
            return self.fixed_ms
        if not self.gap_ms or self.model_ms <= 2 * self.gap_ms:
            return 0.0
        return min(self.max_ms, 1.2 * self.gap_ms)
