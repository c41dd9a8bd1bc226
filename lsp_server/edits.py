"""Minimal, versioned LSP edits from the old and new text of a span (a word-level difflib diff)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from lsprotocol import types

from lsp_server.positions import Lines, position_at

_PIECES = re.compile(r"\w+|\s+|[^\w\s]")  # words, runs of blanks, single punctuation: diff units


@dataclass(frozen=True)
class Replacement:
    """Replace document[start:end] with `text` (offsets in the original document)."""

    start: int
    end: int
    text: str


def _pieces(text: str) -> list[str]:
    return _PIECES.findall(text)


def diff_span(old: str, new: str, at: int = 0) -> list[Replacement]:
    """The fewest word-level replacements turning `old` (found at offset `at`) into `new`."""
    a, b = _pieces(old), _pieces(new)
    a_off = [0]
    for p in a:
        a_off.append(a_off[-1] + len(p))
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.append(Replacement(at + a_off[i1], at + a_off[i2], "".join(b[j1:j2])))
    return out


def apply(text: str, replacements: list[Replacement]) -> str:
    """The text after the replacements (they must not overlap)."""
    for r in sorted(replacements, key=lambda r: r.start, reverse=True):
        text = text[: r.start] + r.text + text[r.end :]
    return text


def to_text_edits(source: str, replacements: list[Replacement], encoding: str) -> list[types.TextEdit]:
    """LSP TextEdits in the client's position units, all relative to `source` as the client has it."""
    lines = Lines.of(source)

    def pos(offset: int) -> types.Position:
        line, character = position_at(lines, offset, encoding)
        return types.Position(line=line, character=character)

    return [
        types.TextEdit(range=types.Range(start=pos(r.start), end=pos(r.end)), new_text=r.text) for r in replacements
    ]


def workspace_edit(
    uri: str, version: int, source: str, replacements: list[Replacement], encoding: str
) -> types.WorkspaceEdit:
    """A WorkspaceEdit with one TextDocumentEdit pinned to `version`, so a client never applies it to newer text."""
    doc = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    edits = to_text_edits(source, replacements, encoding)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=doc, edits=edits)])
