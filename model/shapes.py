"""Sibling statements of the same shape, and one edit carried from a statement to its siblings.

Two single-line statements have the same shape when tree-sitter reads them as the same sequence of token types
(`a = row[0]` and `b = row[1]`: identifier, `=`, identifier, `[`, integer, `]`). An edit that inserts or replaces
whole tokens of one of them (`a = row[0].strip()`) is carried to a sibling at the same token positions, and only
where the tokens it replaces read the same there. Used by the server's next-edit candidates
(lsp_server/next_edits.py) and by the `siblings` change of training and evaluation (model/edit_changes.py).
"""

from __future__ import annotations

from model.syntax import parser_for

REACH = 12  # siblings looked at on each side
_BLOCKS = {"module", "block", "compound_statement", "statement_block", "declaration_list", "chunk", "program"}

Leaf = tuple[str, int, int]  # token type, start, end in the line


def leaves(line: str, language: str | None) -> list[Leaf] | None:
    """The tokens of one line of code (indentation ignored), or None without a grammar, for a line that does not
    parse on its own, or for non-ASCII text (where tree-sitter's bytes and the string's characters part ways)."""
    parser = parser_for(language) if language else None
    if parser is None or not line.isascii():
        return None
    tree = parser.parse(line.encode())
    if tree.root_node.has_error:
        return None
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.child_count == 0:
            if node.end_byte > node.start_byte:
                out.append((node.type, node.start_byte, node.end_byte))
        else:
            stack.extend(reversed(node.children))
    return out


def carry(old: str, start: int, end: int, new: str, sibling: str, language: str | None) -> str | None:
    """`sibling` with the edit that replaced `old[start:end]` by `new` made at the same token positions; None when
    the two lines differ in shape, the edit does not fall on token boundaries, or the tokens it replaces differ."""
    a, b = leaves(old, language), leaves(sibling, language)
    if not a or b is None or [t for t, _, _ in a] != [t for t, _, _ in b]:
        return None
    ends = [e for _, _, e in a]
    starts = [s for _, s, _ in a]
    if start not in starts + ends or end not in starts + ends:
        return None
    first = sum(1 for e in ends if e <= start)  # tokens wholly before the edit
    last = sum(1 for s in starts if s < end)  # tokens that begin inside it or before
    if first < last:  # whole tokens replaced: they must read the same in the sibling
        lo, hi = b[first][1], b[last - 1][2]
        if sibling[lo:hi] != old[start:end]:
            return None
    elif first > 0 and start == a[first - 1][2]:  # an insertion stuck to the token before it
        lo = hi = b[first - 1][2]
    elif first < len(b):
        lo = hi = b[first][1]
    else:
        lo = hi = len(sibling)
    return sibling[:lo] + new + sibling[hi:]


def line_of(text: str, node) -> tuple[int, int]:
    """A single-line statement's span to the end of its line: a trailing comment is part of the pattern."""
    end = text.find("\n", node.end_byte)
    return node.start_byte, len(text) if end < 0 else end


def siblings(text: str, offset: int, language: str | None) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """((start, end) of the single-line statement on the line of `offset`, [(start, end) of the single-line
    statements beside it in the same block, up to REACH on each side]), each to the end of its line; None without a
    grammar or a statement there."""
    parser = parser_for(language) if language else None
    if parser is None or not text.isascii():
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    offset = line_start + len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))
    node = parser.parse(text.encode()).root_node.descendant_for_byte_range(offset, offset)
    while node is not None and (node.parent is None or node.parent.type not in _BLOCKS):
        node = node.parent
    if node is None or node.start_point[0] != node.end_point[0]:
        return None
    around = [c for c in node.parent.named_children if c.start_point[0] == c.end_point[0] and c.type != "comment"]
    here = next(i for i, c in enumerate(around) if c.start_byte == node.start_byte)
    near = around[max(0, here - REACH) : here] + around[here + 1 : here + 1 + REACH]
    return line_of(text, node), [line_of(text, c) for c in near]
