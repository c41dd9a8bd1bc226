"""Statement-sized syntax nodes from tree-sitter, for choosing training holes at syntax boundaries."""

from __future__ import annotations

import ast
import textwrap
from functools import cache, lru_cache

# Node types that make a natural hole: statements, definitions and blocks across the corpus languages.
STATEMENT_SUFFIXES = ("_statement", "_definition", "_declaration", "block", "function", "_item")


@cache
def parser_for(language: str):
    """A tree-sitter parser, or None when no grammar is installed for `language`."""
    try:
        from tree_sitter_language_pack import get_parser

        return get_parser(language)
    except (ImportError, LookupError, ValueError):
        return None


@lru_cache(maxsize=8)
def python_parses(text: str) -> bool:
    """Whether Python's own parser accepts the text.

    tree-sitter's Python grammar accepts blocks with no statement in them (`try:` over a line at the same
    indentation, a `def` with no body) and a `try` with neither `except` nor `finally`: an inline completion of
    a lone `try:` passed the guard. The text is dedented first, so a selection taken from inside a block parses
    on its own; only syntax is checked (`return` outside a function is the compiler's concern, not a parse error).
    """
    try:
        ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return False
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting: not Python's parse to judge
        return True
    return True


def tree_accepts(tree, text: str, language: str) -> bool:
    """Whether `tree` (tree-sitter's parse of `text`) has no error and, for Python, Python's own parser agrees:
    the one rule for "still parses", in the server's guard and in the eval."""
    return not tree.root_node.has_error and (language != "python" or python_parses(text))


def parses(text: str, language: str) -> bool | None:
    """Whether `text` parses by `tree_accepts`; None when there is no grammar."""
    parser = parser_for(language)
    if parser is None:
        return None
    return tree_accepts(parser.parse(text.encode()), text, language)


def statement_ranges(text: str, language: str) -> list[tuple[int, int]]:
    """Character ranges of statement-like named nodes (the parse works in bytes; converted here)."""
    parser = parser_for(language)
    if parser is None:
        return []
    data = text.encode()
    tree = parser.parse(data)
    ascii_only = len(data) == len(text)
    ranges = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.named_children)
        if node.type.endswith(STATEMENT_SUFFIXES) and not node.has_error:
            if ascii_only:
                ranges.append((node.start_byte, node.end_byte))
                continue
            start = len(data[: node.start_byte].decode(errors="ignore"))
            end = start + len(data[node.start_byte : node.end_byte].decode(errors="ignore"))
            ranges.append((start, end))
    return ranges
