"""Client position units <-> character offsets: the only place UTF-16, UTF-8 and code-point columns meet.

LSP lines end at '\\n', '\\r\\n' or '\\r'; a column counts the line's code units in the negotiated encoding.
Everything behind this module works with Python string offsets (code points).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position or range that lies outside the document."""


@dataclass(frozen=True)
class Lines:
    """Start offsets of each line of a text (computed once per text, reused for every position in it)."""

    text: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Lines:
        return cls(text, (0, *(m.end() for m in _LINE_BREAK.finditer(text))))

    def line_text(self, line: int) -> str:
        """The line's characters without its line break."""
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[line] : end].rstrip("\r\n")


def units(ch: str, encoding: str) -> int:
    """How many code units one character takes in the encoding."""
    if encoding == UTF16:
        return 2 if ord(ch) > 0xFFFF else 1
    if encoding == UTF8:
        return len(ch.encode("utf-8", "surrogatepass"))
    return 1


def column_to_index(line: str, column: int, encoding: str) -> int:
    """Code-point index in a line of a column in code units; past the end clamps to the end (as LSP says)."""
    if encoding == UTF32 or line.isascii():
        return min(column, len(line))
    used = 0
    for i, ch in enumerate(line):
        used += units(ch, encoding)
        if used > column:  # the column falls inside or right before this character
            return i
    return len(line)


def index_to_column(line: str, index: int, encoding: str) -> int:
    """Column in code units of a code-point index in a line."""
    head = line[:index]
    if encoding == UTF32 or head.isascii():
        return len(head)
    return sum(units(ch, encoding) for ch in head)


def offset_at(lines: Lines, line: int, character: int, encoding: str) -> int:
    """Character offset of an LSP position; a line past the end is an error, not a silent clamp."""
    if line < 0 or character < 0:
        raise PositionError(f"negative position {line}:{character}")
    if line >= len(lines.starts):
        if line == len(lines.starts) and character == 0:  # the position just after a final newline
            return len(lines.text)
        raise PositionError(f"line {line} is outside the document ({len(lines.starts)} lines)")
    return lines.starts[line] + column_to_index(lines.line_text(line), character, encoding)


def position_at(lines: Lines, offset: int, encoding: str) -> tuple[int, int]:
    """LSP (line, character) of a character offset."""
    offset = max(0, min(offset, len(lines.text)))
    line = _line_of(lines.starts, offset)
    return line, index_to_column(lines.line_text(line), offset - lines.starts[line], encoding)


def _line_of(starts: tuple[int, ...], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:  # the last start <= offset
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def range_offsets(lines: Lines, start: tuple[int, int], end: tuple[int, int], encoding: str) -> tuple[int, int]:
    """Offsets of an LSP range's ends; an end before its start is an error."""
    a = offset_at(lines, *start, encoding)
    b = offset_at(lines, *end, encoding)
    if b < a:
        raise PositionError(f"range end {end[0]}:{end[1]} comes before its start {start[0]}:{start[1]}")
    return a, b


def apply_change(text: str, start: tuple[int, int], end: tuple[int, int], new_text: str, encoding: str) -> str:
    """The text after an incremental didChange event replaced a range."""
    a, b = range_offsets(Lines.of(text), start, end, encoding)
    return text[:a] + new_text + text[b:]


def negotiate(offered: list[str] | None) -> str:
    """UTF-8 when the client offers it (no conversion cost), else UTF-16, the LSP default."""
    offered = [str(getattr(e, "value", e)) for e in (offered or [])]
    return UTF8 if UTF8 in offered else UTF16
