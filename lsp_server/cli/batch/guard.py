"""The syntax guard for a converted unit: does its new text parse, and if not, which region to re-denoise."""

from __future__ import annotations

from dataclasses import dataclass

from lsp_server import spans
from lsp_server.cli.batch.units import Unit
from model.engine import InfillRequest


@dataclass(frozen=True)
class Check:
    """Where a unit's new text sits in the document the parser sees, and the language to parse it in."""

    before: str  # the document text before the unit (empty when the unit is parsed on its own)
    after: str
    language: str | None
    whole: bool  # the document parsed cleanly before: it must still parse as a whole
    old: str | None = None  # the unit's own text: errors are compared region by region with the document before


def check_for(text: str, unit: Unit, language: str | None, target: str | None) -> Check | None:
    """How to check a unit, or None when the guard is off (no grammar; a translated unit that was broken).

    In place, a unit of a file that does not parse is still guarded: its new text may not add error regions
    the file did not have (`spans.added_errors`).
    """
    if target:  # a translated unit is parsed on its own in the new language
        if spans.error_spans(unit.text(text), language) or spans.parses_cleanly(unit.text(text), language) is None:
            return None
        return Check("", "", target, True)
    clean = spans.parses_cleanly(text, language)
    if clean is None:
        return None
    return Check(text[: unit.start], text[unit.end :], language, clean, unit.text(text))


def error_region(check: Check, new: str) -> spans.Span | None:
    """The lines of `new` (in its own offsets) holding errors the new text adds, or None when it adds none."""
    doc = check.before + new + check.after
    at = len(check.before)
    if check.old is not None:
        added = spans.added_errors(
            check.before + check.old + check.after, doc, at, at + len(check.old), at + len(new), check.language
        )
        errors = [e for e in added or [] if e.start <= at + len(new) and e.end >= at]
        broken = bool(added)
    else:
        errors = spans.error_spans(doc, check.language, spans.Span(at, at + len(new)))
        broken = bool(errors) or (check.whole and spans.parses_cleanly(doc, check.language) is False)
    if not broken:
        return None
    if not errors:
        return spans.Span(0, len(new))
    region = spans.line_span(doc, spans.Span(max(at, errors[0].start), min(at + len(new), errors[-1].end)))
    return spans.Span(max(0, region.start - at), min(len(new), region.end - at))


def repair_request(prefix: str, suffix: str, new: str, region: spans.Span) -> InfillRequest:
    """Re-denoise the broken region of a unit's new text, with the unit's own context around it."""
    return InfillRequest(prefix + new[: region.start], new[region.end :] + suffix, new[region.start : region.end])
