"""Never lose data: atomic file writes (temp file + os.replace) and an append-only journal of finished work.

The journal is JSON lines. A `run` header names the settings; `unit` records hold each finished unit's new text;
a `file` record, written just before a file is replaced, names the content the file ends with. A file whose
current content has that hash is done, so a re-run or `--resume` neither redoes nor double-applies anything,
whether the process died before the rename, after it, or between the two.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from lsp_server.cli.batch.walk import TEMP_MARK

JOURNAL_NAME = ".instant-edit-convert.journal"


class JournalError(Exception):
    """The journal cannot be used for this run (other settings, or an unfinished run without --resume)."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temps(path: Path) -> None:
    """Temp files a killed run left beside `path` (the original was never touched by them)."""
    for stale in path.parent.glob(f".{path.name}{TEMP_MARK}*"):
        stale.unlink(missing_ok=True)


def atomic_write(path: Path, text: str, like: Path | None = None) -> None:
    """Write `text` to a temp file beside `path`, flush it to disk, then rename it over `path`."""
    tmp = temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if like is not None and like.exists():
            shutil.copymode(like, tmp)  # keep the original's permissions (an executable script stays one)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class UnitRecord:
    file: str  # path relative to the run's root
    src: str  # digest of the file's text the unit was cut from
    unit: int
    start: int
    end: int
    text: str  # the unit's new text (the old text when unchanged or rejected)
    status: str  # changed, unchanged or rejected
    reason: str = ""
    tokens: int = 0


@dataclass(frozen=True)
class FileRecord:
    file: str
    src: str
    out: str  # digest of the content the destination ends with
    dest: str


def _read(path: Path) -> tuple[list[dict], int]:
    """(records, byte length of the intact part); a line cut short by a kill ends the journal."""
    records, good = [], 0
    with open(path, "rb") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                break
            if not line.endswith(b"\n") or not isinstance(record, dict):
                break
            records.append(record)
            good += len(line)
    return records, good


class Journal:
    """The journal of one output location; `open` decides whether earlier work may be reused."""

    def __init__(self, path: Path, key: str, records: list[dict]):
        self.path, self.key = path, key
        self.units: dict[tuple[str, str, int], UnitRecord] = {}
        self.files: dict[str, FileRecord] = {}
        for record in records:
            self._index(record)

    def _index(self, record: dict) -> None:
        kind = record.get("t")
        fields = {k: v for k, v in record.items() if k != "t"}
        if kind == "unit":
            unit = UnitRecord(**fields)
            self.units[(unit.file, unit.src, unit.unit)] = unit
        elif kind == "file":
            self.files[fields["file"]] = FileRecord(**fields)

    @classmethod
    def open(cls, path: Path, key: str, resume: bool = False, restart: bool = False) -> Journal:
        """Reuse the journal when it was made with the same settings, else start a new one."""
        records, good = _read(path) if path.exists() and not restart else ([], 0)
        header = records[0] if records and records[0].get("t") == "run" else None
        if header is not None and header.get("key") == key:
            finished = records[-1].get("t") == "end"
            if not finished and not resume:
                raise JournalError(
                    f"{path} holds an unfinished run with these settings: pass --resume to finish it "
                    "or --restart to start over"
                )
            os.truncate(path, good)  # drop a line a kill cut short
            journal = cls(path, key, records)
            journal._append([{"t": "start"}])
            return journal
        if resume and path.exists() and not restart:
            raise JournalError(f"{path} was made with other settings: --resume cannot continue it")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"t": "run", "key": key}) + "\n")
        return cls(path, key, [])

    def outputs(self, but: str) -> set[str]:
        """Destinations this run wrote for files other than `but` (a translation must not be translated again)."""
        return {r.dest for f, r in self.files.items() if f != but}

    def _append(self, records: list[dict]) -> None:
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            while data:  # a write may be partial; the reader drops a cut line if a kill lands in between
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def add_units(self, units: list[UnitRecord]) -> None:
        if units:
            self._append([{"t": "unit", **asdict(u)} for u in units])
            for u in units:
                self.units[(u.file, u.src, u.unit)] = u

    def add_file(self, record: FileRecord) -> None:
        self._append([{"t": "file", **asdict(record)}])
        self.files[record.file] = record

    def finish(self) -> None:
        self._append([{"t": "end"}])
