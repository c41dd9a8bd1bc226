"""Units -> engine requests (one per unit, or one per placeholder hole), packed by length into batches."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from lsp_server import spans
from lsp_server.cli.batch.units import Unit
from lsp_server.languages import line_comment
from lsp_server.settings import Settings
from model.requests import InfillRequest

MODES = ("instruction", "to", "repair", "fill")


@dataclass(frozen=True)
class Mode:
    """What a conversion does to each unit."""

    kind: str  # one of MODES
    instruction: str = ""  # --instruction's text
    language: str = ""  # --to's target grammar
    # --repair: reopen a token only when it lies this many nats below the model's best alternative, as the
    # server's Repair does (lsp_server.actions.Gates.repair_margin)
    repair_margin: float = Settings.repair_margin
    # --repair: correct misspelt words first, as the server's Repair does (lsp_server/spelling.py); None: off
    spelling_margin: float | None = Settings.spelling_margin

    def __post_init__(self):
        if self.kind not in MODES:
            raise ValueError(f"unknown conversion mode {self.kind!r}; choose from {MODES}")

    @property
    def hint(self) -> str:
        """The instruction given to an infill-only model as a comment before the unit ('' for repair/fill)."""
        if self.kind == "to":
            return f"Translate the following code to {self.language}."
        return " ".join(self.instruction.split()) if self.kind == "instruction" else ""


@dataclass(frozen=True)
class Hole:
    """Where one request's text goes, in the unit's own offsets (the whole unit, or one placeholder)."""

    start: int
    end: int


@dataclass(frozen=True)
class Job:
    """One engine request for one unit (or one placeholder of it) of one file."""

    file: int  # index of the file in the run
    unit: int  # index of the unit in its file
    hole: int  # index of the hole in its unit
    request: InfillRequest
    repair: bool  # engine.repair (keeps the text, reopens unlikely tokens) instead of infill
    size: int = 0  # span budget in tokens, for packing
    margin: float | None = None  # a repair's margin rule (None: the syntax guard's probability bound)
    spelling_margin: float | None = None  # a repair's spelling fixes (None: none)
    language: str | None = None  # the file's grammar, for spelling fixes (its keywords, its strings and comments)

    @property
    def rule(self) -> tuple:
        """What a batch's jobs must share: infill or repair, and a repair's margins."""
        return self.repair, self.margin, self.spelling_margin


@dataclass(frozen=True)
class Batch:
    """Jobs run in one engine call: several infill rows, or several repair rows of one rule (never mixed)."""

    jobs: tuple[Job, ...]

    @property
    def repair(self) -> bool:
        return self.jobs[0].repair

    @property
    def margin(self) -> float | None:
        return self.jobs[0].margin

    @property
    def spelling_margin(self) -> float | None:
        return self.jobs[0].spelling_margin

    @property
    def languages(self) -> list[str | None]:
        return [j.language for j in self.jobs]


def hinted_prefix(text: str, unit: Unit, hint: str, language: str | None) -> str:
    """The text before the unit with the hint as a comment line above it, indented like the unit."""
    line_start = text.rfind("\n", 0, unit.start) + 1
    before = text[line_start : unit.start]
    indent = re.match(r"[ \t]*", before).group()
    comment = f"{indent}{line_comment(language)} {hint}\n"
    return text[:line_start] + comment + before


def unit_holes(text: str, unit: Unit, mode: Mode, language: str | None) -> list[Hole]:
    """The parts of a unit the model rewrites: the whole unit, or its placeholders in --fill mode."""
    if mode.kind != "fill":
        return [Hole(0, unit.end - unit.start)]
    found = spans.placeholders(text, spans.Span(unit.start, unit.end), language)
    return [Hole(h.start - unit.start, h.end - unit.start) for h in found]


def _shares_line(text: str, start: int, end: int) -> bool:
    line = spans.line_span(text, spans.Span(start, end))
    return bool(text[line.start : start].strip() or text[end : line.end].strip())


def jobs_for_unit(file: int, index: int, text: str, unit: Unit, mode: Mode, language: str | None) -> list[Job]:
    """The requests that convert one unit (none in --fill mode when it has no placeholder)."""
    old = unit.text(text)
    if mode.kind == "repair":
        request = InfillRequest(text[: unit.start], text[unit.end :], old)
        return [Job(file, index, 0, request, True, margin=mode.repair_margin, spelling_margin=mode.spelling_margin,
                    language=language)]
    if mode.kind == "fill":
        jobs = []
        for n, hole in enumerate(unit_holes(text, unit, mode, language)):
            a, b = unit.start + hole.start, unit.start + hole.end
            request = InfillRequest(text[:a], text[b:], single_line=_shares_line(text, a, b))
            jobs.append(Job(file, index, n, request, False))
        return jobs
    prefix = hinted_prefix(text, unit, mode.hint, language)
    request = InfillRequest(prefix, text[unit.end :], old, single_line="\n" not in old)
    return [Job(file, index, 0, request, False)]


def pack(jobs: list[Job], measure: Callable[[InfillRequest], int], batch_size: int, batch_tokens: int) -> list[Batch]:
    """Jobs sorted by span budget and cut into batches (padding stays small); infills and repairs apart."""
    sized = sorted(
        (replace(j, size=measure(j.request)) for j in jobs),
        key=lambda j: (j.repair, j.margin is None, j.margin or 0.0, j.spelling_margin is None, j.spelling_margin or 0.0,
                       j.size, j.file, j.unit, j.hole),
    )
    batches: list[Batch] = []
    current: list[Job] = []
    for job in sized:
        # Sorted ascending, so the newest job has the widest span: the batch costs its size per row.
        full = len(current) >= batch_size or job.size * (len(current) + 1) > batch_tokens
        kind_changes = job.rule != current[0].rule if current else False
        if current and (full or kind_changes):
            batches.append(Batch(tuple(current)))
            current = []
        current.append(job)
    if current:
        batches.append(Batch(tuple(current)))
    return batches


def token_counter(model_path: str | None) -> Callable[[str], int]:
    """Tokens in a text by the checkpoint's tokenizer (the driver of a Ray run loads no network)."""
    from model import families, hub
    from model.engine import DEFAULT_CHECKPOINT

    tok = families.load_tokenizer(hub.resolve(model_path) if model_path else DEFAULT_CHECKPOINT)
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
