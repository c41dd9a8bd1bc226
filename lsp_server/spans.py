"""Syntax around a span (tree-sitter): selection snapping, single- vs multi-line, placeholders, parse checks.

Offsets here are Python string offsets; tree-sitter works in UTF-8 bytes, converted by `ByteMap` only.
Documents over `MAX_PARSE_CHARS` are not parsed: every helper then answers as if no grammar were installed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from model.syntax import parser_for, tree_accepts

MAX_PARSE_CHARS = 1_000_000
_PARSE_LOCK = threading.Lock()
STATEMENT_SUFFIXES = ("_statement", "_definition", "_declaration", "_item", "block", "function", "_clause")
# Nodes whose named children are statements, whatever the grammar calls them.
CONTAINERS = (
    "block",
    "module",
    "program",
    "source_file",
    "translation_unit",
    "compound_statement",
    "statement_block",
    "declaration_list",
    "class_body",
    "chunk",
)
BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", "then", "do")
STRING_OR_COMMENT = ("string", "comment", "string_content", "template_string", "raw_string_literal")
# Holes a user leaves for the model: `<mask>`, `pass  # TODO ...`, a bare `...`, `todo!()`, `/* TODO */`.
PLACEHOLDER = re.compile(
    r"<mask>|\bpass[ \t]*#[ \t]*TODO[^\n]*|(?<![\w.])\.\.\.(?![\w.])|\btodo!\(\)|/\*[ \t]*TODO[ \t]*\*/"
)


@dataclass(frozen=True)
class Span:
    """A stretch of a document in character offsets."""

    start: int
    end: int

    def text(self, source: str) -> str:
        return source[self.start : self.end]


class ByteMap:
    """Character offset <-> UTF-8 byte offset for one text (identity for ASCII)."""

    def __init__(self, text: str):
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(text)

    def to_byte(self, offset: int) -> int:
        return offset if self.ascii else len(self.text[:offset].encode("utf-8", "surrogatepass"))

    def to_char(self, byte: int) -> int:
        return byte if self.ascii else len(self.data[:byte].decode("utf-8", "ignore"))


@lru_cache(maxsize=8)
def parse(text: str, language: str | None):
    """(tree, ByteMap) or None without a grammar or for a huge document; recent texts are parsed once."""
    if not language or len(text) > MAX_PARSE_CHARS:
        return None
    parser = parser_for(language)
    if parser is None:
        return None
    bm = ByteMap(text)
    with _PARSE_LOCK:  # one parser per language is shared by the event loop and the engine thread
        return parser.parse(bm.data), bm


def parses_cleanly(text: str, language: str | None) -> bool | None:
    """True/False whether the text parses without errors (`model.syntax.tree_accepts`: Python must also pass
    Python's own parser); None when it cannot be parsed at all."""
    parsed = parse(text, language)
    if parsed is None:
        return None
    return tree_accepts(parsed[0], text, language)


def error_spans(text: str, language: str | None, within: Span | None = None) -> list[Span]:
    """Character spans of ERROR and MISSING nodes (outermost only), or of the smallest node that has an error no
    child shows; optionally those touching `within`."""
    parsed = parse(text, language)
    if parsed is None:
        return []
    tree, bm = parsed
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(Span(bm.to_char(node.start_byte), bm.to_char(node.end_byte)))
        elif node.has_error and any(c.has_error for c in node.children):
            stack.extend(node.children)
        elif node.has_error:  # an error tree-sitter records on the node only (`return pass`): the node is the region
            found.append(Span(bm.to_char(node.start_byte), bm.to_char(node.end_byte)))
    if within is not None:
        found = [s for s in found if s.start <= within.end and s.end >= within.start]
    return sorted(found, key=lambda s: s.start)


def snap(text: str, span: Span, language: str | None) -> Span:
    """Widen a partial selection to the smallest enclosing statement-like node; whole lines without a grammar."""
    parsed = parse(text, language)
    if parsed is not None:
        tree, bm = parsed
        lo, hi = bm.to_byte(span.start), bm.to_byte(span.end)
        node = tree.root_node.named_descendant_for_byte_range(lo, max(lo, hi - 1) if hi > lo else hi)
        while node is not None and node.parent is not None:
            statement = node.type.endswith(STATEMENT_SUFFIXES) or node.parent.type in CONTAINERS
            if statement and node.start_byte <= lo and node.end_byte >= hi:
                return Span(bm.to_char(node.start_byte), bm.to_char(node.end_byte))
            node = node.parent
    return line_span(text, span)


def line_span(text: str, span: Span) -> Span:
    """The span widened to whole lines (leading indentation included, final line break excluded)."""
    start = text.rfind("\n", 0, span.start) + 1
    end = text.find("\n", max(span.start, span.end))
    return Span(start, len(text) if end < 0 else end)


def is_single_line(text: str, offset: int, language: str | None) -> bool:
    """Whether a completion at `offset` should stay on its line: mid-line, inside a string or comment, etc."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    before = text[line_start:offset]
    after = text[offset : len(text) if line_end < 0 else line_end]
    if after.strip() or _in_string_or_comment(text, offset, language):
        return True
    if before.strip():
        return not before.rstrip().endswith(BLOCK_OPENERS)
    previous = text[:line_start].rstrip()
    return not (previous.endswith(BLOCK_OPENERS) or _opens_empty_block(text, offset, language))


def _node_at(text: str, offset: int, language: str | None):
    """(smallest node at `offset`, its byte offset), or None when there is no grammar."""
    parsed = parse(text, language)
    if parsed is None:
        return None
    tree, bm = parsed
    b = bm.to_byte(offset)
    return tree.root_node.descendant_for_byte_range(b, b), b


def _in_string_or_comment(text: str, offset: int, language: str | None) -> bool:
    found = _node_at(text, offset, language)
    if found is None:
        return False
    node, b = found
    while node is not None:
        if node.type in STRING_OR_COMMENT and node.start_byte < b < node.end_byte:
            return True
        node = node.parent
    return False


def _opens_empty_block(text: str, offset: int, language: str | None) -> bool:
    """The cursor sits in a block or definition body that the parser found empty or broken."""
    found = _node_at(text, offset, language)
    node = found[0] if found else None
    if node is None:
        return False
    if node.type == "block":  # a blank line inside a block with statements adds one statement: one line
        return node.named_child_count == 0
    return node.is_error or node.is_missing or node.type == "ERROR"


def placeholders(text: str, span: Span, language: str | None) -> list[Span]:
    """Placeholder holes inside the span, skipping matches inside strings and comments (`pass  # TODO` kept)."""
    found = []
    for m in PLACEHOLDER.finditer(text, span.start, span.end):
        hole = Span(m.start(), m.end())
        if m.group().startswith(("pass", "/*")) or not _in_string_or_comment(text, hole.start + 1, language):
            found.append(hole)
    return found


def enclosing_definition(text: str, offset: int, language: str | None) -> Span | None:
    """The function or class around an offset (for "fill placeholders" with an empty selection)."""
    parsed = parse(text, language)
    if parsed is None:
        return None
    tree, bm = parsed
    b = bm.to_byte(offset)
    node = tree.root_node.named_descendant_for_byte_range(b, b)
    while node is not None and node.parent is not None:
        if node.type.endswith(("_definition", "_declaration", "function_item", "method")):
            return Span(bm.to_char(node.start_byte), bm.to_char(node.end_byte))
        node = node.parent
    return None


def added_errors(before: str, after: str, start: int, old_end: int, new_end: int, language: str | None):
    """Parse-error regions of `after` that `before` did not have, or None when there is no grammar.

    `after` is `before` with [start, old_end) replaced by text ending at `new_end`. Each error region of `before`
    is carried over to `after` (shifted past the edit; one that reached into the edit now covers all of it), and an
    error region of `after` inside a carried region is an old one: a file that is mid-edit elsewhere keeps its
    own errors, and only the errors the edit brings in count.
    """
    if parses_cleanly(before, language) is None or parses_cleanly(after, language) is None:
        return None
    if parses_cleanly(after, language):
        return []
    delta = new_end - old_end

    def carry(offset: int, is_end: bool) -> int:
        if offset < start:
            return offset
        if offset > old_end:
            return offset + delta
        if start == old_end:  # an insertion: a region touching the point stretches over the inserted text
            return offset + delta if is_end else offset
        if is_end:
            return start if offset == start else new_end
        return offset + delta if offset == old_end else start

    old = [Span(carry(s.start, False), carry(s.end, True)) for s in error_spans(before, language)]
    added = [e for e in error_spans(after, language) if not any(o.start <= e.start and e.end <= o.end for o in old)]
    if not added and parses_cleanly(before, language):  # only Python's own parser sees it: the edit's lines
        return [line_span(after, Span(start, max(start, new_end)))]
    return added


def edit_adds_errors(before: str, after: str, language: str | None) -> bool | None:
    """Whether turning `before` into `after` (one edit, found by their common ends) adds parse-error regions.

    None when there is no grammar. For checks from outside the server (tests, editor scenarios, the gates).
    """
    n = min(len(before), len(after))
    start = 0
    while start < n and before[start] == after[start]:
        start += 1
    tail = 0
    while tail < n - start and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]:
        tail += 1
    added = added_errors(before, after, start, len(before) - tail, len(after) - tail, language)
    return None if added is None else bool(added)
