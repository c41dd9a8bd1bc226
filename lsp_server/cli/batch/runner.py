"""The conversion pipeline in one process: walk, plan, run batches through an executor, guard, write, journal.

An executor runs batches (`LocalExecutor` here, `ray_runner.RayExecutor` on a cluster); everything else, files
and the journal included, stays in this driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

from lsp_server import spelling
from lsp_server.cli.batch import guard, plan, work
from lsp_server.cli.batch import journal as jn
from lsp_server.cli.batch.plan import Batch, Job, Mode
from lsp_server.cli.batch.walk import Filters, walk
from lsp_server.spans import Span
from model.engine import InfillRequest, InfillResult
from model.requests import guess_budget
from model.sampler import SamplerConfig


@dataclass(frozen=True)
class Settings:
    mode: Mode
    output: work.Output = work.Output()
    sampler: SamplerConfig = SamplerConfig()
    filters: Filters = Filters()
    journal: Path | None = None  # default: in the output location
    resume: bool = False
    restart: bool = False
    context_tokens: int = 512
    batch_size: int = 16
    batch_tokens: int = 2048  # span tokens per batch (rows x the widest span)
    max_unit_tokens: int = 192
    window: int = 64  # jobs planned and run together; files finish as their window ends

    def key(self, model_name: str) -> str:
        """What makes two runs the same run (the journal of one may finish the other)."""
        fields = [asdict(self.mode), asdict(self.sampler), self.context_tokens, self.max_unit_tokens, model_name]
        return jn.digest(json.dumps(fields, sort_keys=True))


class Executor(Protocol):
    name: str

    def run(self, batches: list[Batch], sampler: SamplerConfig) -> Iterator[tuple[int, list[InfillResult]]]:
        """(batch index, one result per job), in any order."""
        ...


def run_batch(
    engine,
    requests: list[InfillRequest],
    repair: bool,
    sampler: SamplerConfig,
    context: int,
    margin=None,
    spelling_margin: float | None = None,
    languages: list[str | None] | None = None,
):
    """One engine call: a batch of infills or a batch of repairs (by `margin` when given, else the bound); with
    `spelling_margin`, a repair whose unit has misspelt words the model corrects gets those corrections instead;
    a margin repair that would take away a name used around it keeps the unit's text (`_kept_names`)."""
    if not repair:
        return engine.infill_batch(requests, sampler, context_tokens=context)
    fixed = [[] for _ in requests]
    if spelling_margin is not None:
        fixed = spelling.fix_requests(engine, requests, languages or [None] * len(requests), spelling_margin, context)
    rest = [r for r, f in zip(requests, fixed) if not f]
    repaired = engine.repair_batch(rest, sampler, context_tokens=context, margin=margin) if rest else []
    if margin is not None:  # --repair's margin rule, not the syntax guard re-denoising the model's own text
        repaired = [_kept_names(r, res) for r, res in zip(rest, repaired)]
    repaired = iter(repaired)
    return [_spelled(engine, r, f, context) if f else next(repaired) for r, f in zip(requests, fixed)]


def _kept_names(request: InfillRequest, result: InfillResult) -> InfillResult:
    """The server's Repair rule: a repair that takes away a name the text around it uses is no repair (a misspelt
    name is unique), so the unit keeps its text."""
    if spelling.names_taken_away(request.prefix, request.span, result.text, request.suffix):
        return replace(result, text=request.span)
    return result


def _spelled(engine, request: InfillRequest, fixes: list, context: int) -> InfillResult:
    """A repair answered by spelling fixes, as an engine result (one model call scored the candidates)."""
    text = spelling.apply(request.span, Span(0, len(request.span)), fixes)
    return InfillResult(text, 1, 1, len(engine.tok.encode(text)), 0, len(fixes), spelling.confidence(fixes), context)


class LocalExecutor:
    """Runs every batch on a model in this process."""

    def __init__(self, engine, context_tokens: int):
        self.engine, self.context_tokens, self.name = engine, context_tokens, engine.name

    def run(self, batches: list[Batch], sampler: SamplerConfig) -> Iterator[tuple[int, list[InfillResult]]]:
        for i, batch in enumerate(batches):
            requests = [j.request for j in batch.jobs]
            yield i, run_batch(
                self.engine, requests, batch.repair, sampler, self.context_tokens, batch.margin,
                batch.spelling_margin, batch.languages,
            )


class Progress(Protocol):
    def start(self, files: int) -> None: ...
    def planned(self, units: int) -> None: ...
    def advanced(self, units: int, tokens: int) -> None: ...
    def file_done(self, outcome: work.FileOutcome) -> None: ...


class _Quiet:
    def start(self, files):
        pass

    def planned(self, units):
        pass

    def advanced(self, units, tokens):
        pass

    def file_done(self, outcome):
        pass


@dataclass
class RunResult:
    outcomes: list[work.FileOutcome] = field(default_factory=list)
    tokens: int = 0
    journal: str = ""


def default_journal(settings: Settings, root: Path) -> Path | None:
    if settings.output.kind == "dry-run":
        return None
    if settings.journal is not None:
        return settings.journal
    return (settings.output.out_dir if settings.output.kind == "out" else root) / jn.JOURNAL_NAME


class Conversion:
    """One run over a list of files (the state that lives between windows)."""

    def __init__(self, settings: Settings, executor: Executor, count: Callable[[str], int], progress: Progress):
        self.s, self.executor, self.count, self.progress = settings, executor, count, progress
        self.journal: jn.Journal | None = None
        self.result = RunResult()

    def fits(self, text: str) -> bool:
        return self.count(text) <= self.s.max_unit_tokens

    def hole_jobs(self, fw: work.FileWork) -> list[Job]:
        jobs = []
        for i, unit in enumerate(fw.units):
            if i not in fw.records:
                jobs += plan.jobs_for_unit(fw.index, i, fw.text, unit, self.s.mode, fw.source.language)
        return jobs

    def execute(self, jobs: list[Job]) -> dict[tuple[int, int, int], InfillResult]:
        measure = lambda r: guess_budget(r, self.count)  # the engine's rule (Engine.default_budget)
        batches = plan.pack(jobs, measure, self.s.batch_size, self.s.batch_tokens)
        out = {}
        for i, results in self.executor.run(batches, self.s.sampler):
            for job, res in zip(batches[i].jobs, results):
                out[(job.file, job.unit, job.hole)] = res
            self.progress.advanced(0, sum(r.new_tokens for r in results))
            self.result.tokens += sum(r.new_tokens for r in results)
        return out

    def unit_prefix(self, fw: work.FileWork, i: int) -> str:
        unit = fw.units[i]
        if self.s.mode.hint:
            return plan.hinted_prefix(fw.text, unit, self.s.mode.hint, fw.source.language)
        return fw.text[: unit.start]

    def assemble(self, fw: work.FileWork, i: int, results: dict) -> str:
        """A unit's new text from its holes' results."""
        unit = fw.units[i]
        old = unit.text(fw.text)
        holes = plan.unit_holes(fw.text, unit, self.s.mode, fw.source.language)
        out, at = [], 0
        for n, hole in enumerate(holes):
            out += [old[at : hole.start], results[(fw.index, i, n)].text]
            at = hole.end
        return "".join(out) + old[at:]

    def guard_units(self, window: list[work.FileWork], new: dict[tuple[int, int], str]) -> dict[tuple[int, int], str]:
        """Reasons for units whose output adds parse errors after one re-denoising round; fixes `new` in place."""
        target = self.s.mode.language or None
        checks, repairs = {}, []
        files = {fw.index: fw for fw in window}
        for (f, i), text in new.items():
            fw = files[f]
            check = guard.check_for(fw.text, fw.units[i], fw.source.language, target)
            region = guard.error_region(check, text) if check is not None else None
            if region is not None:
                suffix = fw.text[fw.units[i].end :]
                request = guard.repair_request(self.unit_prefix(fw, i), suffix, text, region)
                checks[(f, i)] = (check, region)
                repairs.append(Job(f, i, -1, request, True))
        rejected = {}
        fixed = self.execute(repairs) if repairs else {}
        for (f, i), (check, region) in checks.items():
            text = new[(f, i)]
            text = text[: region.start] + fixed[(f, i, -1)].text + text[region.end :]
            if guard.error_region(check, text) is None:
                new[(f, i)] = text
            else:
                rejected[(f, i)] = "output would add a syntax error (after one re-denoising round)"
        return rejected

    @staticmethod
    def drop_empty(files: dict, new: dict[tuple[int, int], str]) -> dict[tuple[int, int], str]:
        """Units the model emptied are not converted: take them out of `new` and say why."""
        empty = [
            (f, i) for (f, i), text in new.items() if files[f].units[i].text(files[f].text).strip() and not text.strip()
        ]
        for k in empty:
            del new[k]
        return {k: "the model produced no text" for k in empty}

    @staticmethod
    def unit_records(files: dict, new: dict, rejected: dict, tokens: dict) -> dict[tuple[int, int], jn.UnitRecord]:
        """The journal's view of each finished unit: its final text and what happened to it."""
        records = {}
        for f, i in sorted(set(new) | set(rejected)):
            fw = files[f]
            unit, old = fw.units[i], fw.units[i].text(fw.text)
            text = old if (f, i) in rejected else new[(f, i)]
            status = "rejected" if (f, i) in rejected else ("changed" if text != old else "unchanged")
            why, spent = rejected.get((f, i), ""), tokens.get((f, i), 0)
            records[(f, i)] = jn.UnitRecord(
                str(fw.source.rel), fw.src, i, unit.start, unit.end, text, status, why, spent
            )
        return records

    def run_window(self, window: list[work.FileWork]) -> None:
        """Run the window's units, guard them, journal them, then write (or diff) its files."""
        jobs = [j for fw in window for j in self.hole_jobs(fw)]
        results = self.execute(jobs) if jobs else {}
        files = {fw.index: fw for fw in window}
        new, tokens = {}, {}
        for (f, i, _), res in results.items():
            tokens[(f, i)] = tokens.get((f, i), 0) + res.new_tokens
        for f, i in dict.fromkeys((j.file, j.unit) for j in jobs):
            new[(f, i)] = self.assemble(files[f], i, results)
        rejected = self.drop_empty(files, new)
        rejected.update(self.guard_units(window, new))
        rejected.update(self.drop_empty(files, new))  # a repair round may have emptied a unit too
        records = self.unit_records(files, new, rejected, tokens)
        for (f, i), record in records.items():
            files[f].records[i] = record
        if self.journal is not None:
            self.journal.add_units(list(records.values()))
        self.progress.advanced(len(records), 0)
        for fw in window:
            outcome = work.finish(fw, fw.records, self.s.output, self.journal)
            self.result.outcomes.append(outcome)
            self.progress.file_done(outcome)

    def windows(self, works: list[work.FileWork]) -> Iterator[list[work.FileWork]]:
        window, size = [], 0
        for fw in works:
            window.append(fw)
            size += len(fw.units) - len(fw.records)
            if size >= self.s.window:
                yield window
                window, size = [], 0
        if window:
            yield window

    def run(self, paths: list[Path]) -> RunResult:
        root, files = walk(paths, self.s.filters)
        journal_path = default_journal(self.s, root)
        if journal_path is not None:
            self.journal = jn.Journal.open(journal_path, self.s.key(self.executor.name), self.s.resume, self.s.restart)
            self.result.journal = str(journal_path)
        self.progress.start(len(files))
        works = []
        for n, source in enumerate(files):
            prepared = work.prepare(n, source, self.s.output, self.s.mode, self.fits, self.journal)
            if isinstance(prepared, work.FileOutcome):
                self.result.outcomes.append(prepared)
                self.progress.file_done(prepared)
            else:
                works.append(prepared)
                self.progress.planned(len(prepared.units))
                self.progress.advanced(len(prepared.records), 0)
        for window in self.windows(works):
            self.run_window(window)
        if self.journal is not None:
            self.journal.finish()
        return self.result


def convert(
    paths: list[Path],
    settings: Settings,
    executor: Executor,
    count: Callable[[str], int],
    progress: Progress | None = None,
) -> RunResult:
    """Convert the files under `paths`; the journal makes a later run with `resume` finish an interrupted one."""
    return Conversion(settings, executor, count, progress or _Quiet()).run(paths)
