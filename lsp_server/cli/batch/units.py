"""A file split into syntax units (functions, classes, runs of top-level statements) with tree-sitter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lsp_server import spans

CLASS_LIKE = ("class", "impl_item", "struct_item", "trait_item", "enum_item", "interface", "module")
FUNCTION_LIKE = ("function", "method")
BODY_FIELDS = ("body", "definition")  # where a class keeps its members; a decorated definition its target


@dataclass(frozen=True)
class Unit:
    """A stretch of a file converted as one piece, in character offsets."""

    start: int
    end: int
    kind: str  # "function", "class" or "block"

    def text(self, source: str) -> str:
        return source[self.start : self.end]


@dataclass(frozen=True)
class Split:
    units: tuple[Unit, ...]
    too_long: int  # statements or definitions left alone because no part of them fits a span budget


def kind_of(node) -> str | None:
    """'class', 'function' or None (a plain statement) for a named node."""
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        return kind_of(inner) if inner is not None else "function"
    if any(word in node.type for word in CLASS_LIKE):
        return "class"
    if any(word in node.type for word in FUNCTION_LIKE):
        return "function"
    return None


def _members(node):
    """The named children of a definition's body (None when it has no body to descend into)."""
    for field in BODY_FIELDS:
        child = node.child_by_field_name(field)
        if child is not None:
            return child.named_children if field == "body" else _members(child)
    return None


class _Splitter:
    def __init__(self, text: str, bm: spans.ByteMap, fits: Callable[[str], bool]):
        self.text, self.bm, self.fits = text, bm, fits
        self.units: list[Unit] = []
        self.too_long = 0

    def unit(self, start_byte: int, end_byte: int, kind: str) -> Unit:
        return Unit(self.bm.to_char(start_byte), self.bm.to_char(end_byte), kind)

    def siblings(self, nodes) -> None:
        """Definitions become units (or are split into their members); other statements are grouped in runs."""
        run: list = []
        for node in nodes:
            kind = kind_of(node)
            if kind is None and "comment" not in node.type and not self._breaks_run(run, node):
                run.append(node)
                continue
            self.flush(run)
            run = [node] if kind is None and "comment" not in node.type else []
            if kind is not None:
                self.definition(node, kind)
        self.flush(run)

    def _breaks_run(self, run: list, node) -> bool:
        """A blank line between statements, or a run that would outgrow the budget, starts a new run."""
        if not run:
            return False
        gap = self.bm.data[run[-1].end_byte : node.start_byte]
        if gap.count(b"\n") > 1:
            return True
        return not self.fits(self.unit(run[0].start_byte, node.end_byte, "block").text(self.text))

    def flush(self, run: list) -> None:
        if not run:
            return
        unit = self.unit(run[0].start_byte, run[-1].end_byte, "block")
        if self.fits(unit.text(self.text)):
            self.units.append(unit)
        else:
            self.too_long += 1

    def definition(self, node, kind: str) -> None:
        unit = self.unit(node.start_byte, node.end_byte, kind)
        if self.fits(unit.text(self.text)):
            self.units.append(unit)
            return
        members = _members(node) if kind == "class" or node.type == "decorated_definition" else None
        if members:
            self.siblings(members)  # the header stays as it is; its members are converted one by one
        else:
            self.too_long += 1


def split_units(text: str, language: str | None, fits: Callable[[str], bool], descend: bool = True) -> Split:
    """Units in file order; `fits` says whether a unit's text is short enough for one span."""
    parsed = spans.parse(text, language)
    if parsed is None:
        return Split((), 0)
    tree, bm = parsed
    splitter = _Splitter(text, bm, fits if descend else lambda s: True)
    splitter.siblings(tree.root_node.named_children)
    units = splitter.units
    too_long = splitter.too_long
    if not descend:  # whole top-level units only (translation): a unit too long for a span is left alone
        kept = [u for u in units if fits(u.text(text))]
        too_long, units = len(units) - len(kept), kept
    return Split(tuple(sorted(units, key=lambda u: u.start)), too_long)
