"""Calls and parameter lists in source text: where `name(...)` stands, and where each argument sits in it.

A text scanner rather than a syntax tree: it serves the server on the text as it is while the user types (often
unparsable) and any C-like language, and the training data in bulk. Brackets nest and quoted strings are skipped,
so a comma or parenthesis inside a string or a nested call is not taken for a separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CALL_CHARS = 600  # a call longer than this is not one to change the same way everywhere
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Call:
    start: int  # where the callee's name begins
    open: int  # the opening parenthesis
    end: int  # just after the closing parenthesis
    args: tuple[tuple[int, int], ...]  # each argument's span, stripped of surrounding blanks

    @property
    def inner(self) -> tuple[int, int]:
        return self.open + 1, self.end - 1


def closing(text: str, open_at: int) -> int | None:
    """Index of the bracket closing the one at `open_at`, skipping strings and nested brackets; None when it is
    not closed within MAX_CALL_CHARS."""
    depth, i, stop = 0, open_at, min(len(text), open_at + MAX_CALL_CHARS)
    while i < stop:
        ch = text[i]
        if ch in "\"'":
            end = text.find(ch, i + 1)
            while end != -1 and text[end - 1] == "\\":
                end = text.find(ch, end + 1)
            if end == -1 or end >= stop:
                return None
            i = end
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def split_args(text: str, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """Spans of the comma-separated items in `text[lo:hi]` at the top level, blanks stripped (none when empty)."""
    spans, depth, start, i = [], 0, lo, lo
    while i < hi:
        ch = text[i]
        if ch in "\"'":
            end = text.find(ch, i + 1)
            i = end if 0 <= end < hi else hi
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif ch == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, hi))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        out.append((a, b))
    if out and out[-1][0] == out[-1][1]:  # nothing, or a trailing comma
        out.pop()
    return tuple(out)


def call_at(text: str, name_start: int, name: str) -> Call | None:
    """The call whose callee `name` begins at `name_start` (blanks allowed before the parenthesis)."""
    i = name_start + len(name)
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != "(":
        return None
    close = closing(text, i)
    if close is None:
        return None
    return Call(name_start, i, close + 1, split_args(text, i + 1, close))


# Keywords that put a name being defined after them, in the languages the server knows.
DEFINING = ("def", "class", "function", "fn", "func")


def defined_at(text: str, at: int, keywords: tuple[str, ...] = DEFINING) -> bool:
    """Whether the name starting at `at` is being defined: one of `keywords` stands right before it on its line."""
    line = text[text.rfind("\n", 0, at) + 1 : at]
    return re.search(rf"\b({'|'.join(keywords)})\s+$", line) is not None


def calls_of(text: str, name: str) -> list[Call]:
    """Every call of `name` in `text` (as a whole word; a method call `x.name(` counts), not its definition."""
    out = []
    for m in re.finditer(rf"(?<![\w]){re.escape(name)}\s*\(", text):
        if defined_at(text, m.start()):
            continue
        call = call_at(text, m.start(), name)
        if call is not None:
            out.append(call)
    return out


_ANY_CALLEE = re.compile(r"(?<![\w])(\w+)\s*\(")


def calls_by_name(text: str) -> dict[str, list[Call]]:
    """`calls_of` for every name called in `text`, in one scan of it. Training reads every call of a file to pick
    one to change; a scan per name made that quadratic and took half of each training step."""
    out: dict[str, list[Call]] = {}
    for m in _ANY_CALLEE.finditer(text):
        # The greedy word is the whole name before the parenthesis, so these are the matches `calls_of` finds.
        if defined_at(text, m.start()):
            continue
        call = call_at(text, m.start(), m.group(1))
        if call is not None:
            out.setdefault(m.group(1), []).append(call)
    return out


def enclosing_call(text: str, start: int, end: int) -> Call | None:
    """The innermost call `name(...)` whose parentheses hold `[start, end)`."""
    depth, i = 0, start - 1
    limit = max(0, start - MAX_CALL_CHARS)
    while i >= limit:
        ch = text[i]
        if ch in _CLOSE:
            depth += 1
        elif ch in _OPEN:
            if depth == 0:
                if ch != "(":
                    return None
                m = re.search(r"([A-Za-z_]\w*)\s*$", text[max(0, i - 80) : i])
                if m is None:
                    return None
                call = call_at(text, i - len(m.group(0)), m.group(1))
                return call if call is not None and call.end - 1 >= end else None
            depth -= 1
        i -= 1
    return None


def without_item(text: str, items: tuple[tuple[int, int], ...], index: int) -> tuple[int, int]:
    """The span to delete to remove item `index` of a comma-separated list with its separator."""
    a, b = items[index]
    if index + 1 < len(items):
        return a, items[index + 1][0]
    if index > 0:
        return items[index - 1][1], b
    return a, b


def param_names(text: str, call: Call) -> list[str]:
    """A definition's parameter names, in order (annotations, defaults and stars dropped)."""
    names = []
    for a, b in call.args:
        m = re.match(r"[*\s]*([A-Za-z_]\w*)", text[a:b])
        names.append(m.group(1) if m else text[a:b])
    return names
