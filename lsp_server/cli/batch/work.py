"""One file's share of a run: read it, cut it into units; at the end compose its new text and write it."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lsp_server.cli.batch import journal as jn
from lsp_server.cli.batch.plan import Mode, unit_holes
from lsp_server.cli.batch.units import Split, Unit, split_units
from lsp_server.cli.batch.walk import SourceFile

STATUSES = ("changed", "unchanged", "rejected", "failed", "skipped")


@dataclass(frozen=True)
class Output:
    """Where results go: nowhere (a diff), over the originals, or into a mirrored tree."""

    kind: str = "dry-run"  # dry-run, write or out
    out_dir: Path | None = None
    extension: str = ""  # --to: changed files get this extension

    def rel(self, source: SourceFile, changed: bool) -> PurePosixPath:
        return source.rel.with_suffix(self.extension) if self.extension and changed else source.rel

    def dest(self, source: SourceFile, changed: bool) -> Path | None:
        if self.kind == "write":
            return source.path.with_suffix(self.extension) if self.extension and changed else source.path
        if self.kind == "out":
            return self.out_dir / self.rel(source, changed)
        return None


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    file: str
    status: str  # one of STATUSES
    reason: str = ""
    dest: str = ""
    units: int = 0
    changed: int = 0
    rejected: int = 0
    too_long: int = 0
    diff: str = ""


@dataclass(frozen=True)
class FileWork:
    """A readable file and its units, waiting for their results."""

    index: int
    source: SourceFile
    text: str
    src: str  # digest of text
    units: tuple[Unit, ...]
    too_long: int
    records: dict[int, jn.UnitRecord] = field(default_factory=dict)  # units finished by an earlier run


def read_text(path: Path) -> tuple[str | None, FileOutcome | None]:
    """(text, None), or (None, why the file is skipped or failed)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, FileOutcome(str(path), "failed", f"cannot read: {e.strerror}")
    if b"\0" in data:
        return None, FileOutcome(str(path), "skipped", "binary file")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return None, FileOutcome(str(path), "skipped", f"not UTF-8 text (byte {e.start})")


def file_digest(path: Path) -> str | None:
    try:
        return jn.digest(path.read_bytes().decode("utf-8", "surrogateescape"))
    except (OSError, UnicodeDecodeError):
        return None


def already_done(record: jn.FileRecord | None, source: SourceFile, src: str) -> bool:
    """The journal says this file was converted, and its destination still holds exactly that result."""
    if record is None:
        return False
    dest = Path(record.dest)
    if record.src == src or (dest == source.path and record.out == src):
        return file_digest(dest) == record.out
    return False


def read_only(path: Path) -> bool:
    """No write bit at all (checked on the mode: root may write anyway, but the owner asked not to)."""
    try:
        return not path.stat().st_mode & 0o222
    except OSError:
        return False


def prepare(
    index: int, source: SourceFile, output: Output, mode: Mode, fits: Callable[[str], bool], journal: jn.Journal | None
) -> FileWork | FileOutcome:
    """A file ready for planning, or its outcome when there is nothing to do or it cannot be done."""
    rel = str(source.rel)
    text, problem = read_text(source.path)
    if problem is not None:
        return FileOutcome(rel, problem.status, problem.reason)
    src = jn.digest(text)
    if journal is not None and already_done(journal.files.get(rel), source, src):
        return FileOutcome(rel, "unchanged", "already converted (journal)", journal.files[rel].dest)
    if journal is not None and str(source.path) in journal.outputs(rel):
        return FileOutcome(rel, "skipped", "written by this conversion")
    if output.kind == "write" and not output.extension and read_only(source.path):
        return FileOutcome(rel, "failed", "read-only file")
    if source.language is None:
        return FileOutcome(rel, "skipped", "no grammar for this file type")
    split = split_units(text, source.language, fits, descend=mode.kind != "to")
    if mode.kind == "to" and source.language == mode.language:
        split = Split((), 0)  # already in the target language: copied as it is
    units = split.units
    if mode.kind == "fill":
        units = tuple(u for u in units if unit_holes(text, u, mode, source.language))
    done = {}
    if journal is not None:
        done = {i: journal.units[(rel, src, i)] for i in range(len(units)) if (rel, src, i) in journal.units}
    return FileWork(index, source, text, src, units, split.too_long, done)


def compose(work: FileWork, records: dict[int, jn.UnitRecord]) -> str:
    out, at = [], 0
    for i, unit in enumerate(work.units):
        out += [work.text[at : unit.start], records[i].text]
        at = unit.end
    return "".join(out) + work.text[at:]


def _diff(old: str, new: str, a: PurePosixPath, b: PurePosixPath) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{a}", f"b/{b}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _write(work: FileWork, new: str, dest: Path, journal: jn.Journal | None) -> None:
    """Record the result, then put it in place atomically (the order makes a kill in between harmless)."""
    if journal is not None:
        journal.add_file(jn.FileRecord(str(work.source.rel), work.src, jn.digest(new), str(dest)))
    if dest == work.source.path and new == work.text:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    jn.remove_stale_temps(dest)
    jn.atomic_write(dest, new, like=work.source.path)


def rejection_reasons(records: dict[int, jn.UnitRecord]) -> str:
    """'2 units: the model produced no text; 1 unit: ...' for the units left unchanged."""
    reasons: dict[str, int] = {}
    for r in records.values():
        if r.status == "rejected":
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    return "; ".join(f"{n} unit{'s' if n != 1 else ''} rejected: {why}" for why, n in reasons.items())


def finish(
    work: FileWork, records: dict[int, jn.UnitRecord], output: Output, journal: jn.Journal | None
) -> FileOutcome:
    """Compose the file from its units' results, write it (or diff it) and say what happened."""
    new = compose(work, records)
    statuses = [r.status for r in records.values()]
    changed, rejected = statuses.count("changed"), statuses.count("rejected")
    status = "changed" if new != work.text else ("rejected" if rejected else "unchanged")
    rel = str(work.source.rel)
    counts = dict(
        units=len(work.units),
        changed=changed,
        rejected=rejected,
        too_long=work.too_long,
        reason=rejection_reasons(records),
    )
    dest = output.dest(work.source, status == "changed")
    if dest is None:
        diff = _diff(work.text, new, work.source.rel, output.rel(work.source, status == "changed"))
        return FileOutcome(rel, status, diff=diff if new != work.text else "", **counts)
    try:
        _write(work, new, dest, journal)
    except OSError as e:
        counts["reason"] = f"cannot write {dest}: {e.strerror}"
        return FileOutcome(rel, "failed", dest=str(dest), **counts)
    return FileOutcome(rel, status, dest=str(dest), **counts)
