"""What a conversion shows: a live progress bar, a summary table at the end, or one JSON object (--json)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lsp_server.cli.batch.work import STATUSES, FileOutcome


class LiveProgress:
    """Files, units, tokens/s and ETA on stderr (rich); the bar follows units, the slow part."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("converting"),
            BarColumn(),
            TextColumn("files {task.fields[files]}"),
            TextColumn("units {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("{task.fields[rate]} tok/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.files_done = self.files = self.tokens = 0
        self.began = time.monotonic()
        self.task = None

    def start(self, files: int) -> None:
        self.files, self.began = files, time.monotonic()
        self.bar.start()
        self.task = self.bar.add_task("units", total=0, files=f"0/{files}", rate="0")

    def planned(self, units: int) -> None:
        self.bar.update(self.task, total=self.bar.tasks[0].total + units)

    def advanced(self, units: int, tokens: int) -> None:
        self.tokens += tokens
        rate = self.tokens / max(1e-9, time.monotonic() - self.began)
        self.bar.update(self.task, advance=units, rate=f"{rate:.0f}")

    def file_done(self, outcome: FileOutcome) -> None:
        self.files_done += 1
        self.bar.update(self.task, files=f"{self.files_done}/{self.files}")

    def stop(self) -> None:
        self.bar.stop()


def summarize(outcomes: list[FileOutcome], tokens: int, seconds: float) -> dict:
    """Counts by file status and by unit, with the throughput."""
    files = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    units = {
        "total": sum(o.units for o in outcomes),
        "changed": sum(o.changed for o in outcomes),
        "rejected": sum(o.rejected for o in outcomes),
        "too_long": sum(o.too_long for o in outcomes),
    }
    units["unchanged"] = units["total"] - units["changed"] - units["rejected"]
    return {
        "files": files,
        "units": units,
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else 0.0,
    }


def print_summary(console: Console, summary: dict, outcomes: list[FileOutcome], journal: str = "") -> None:
    table = Table(title="instant-edit convert")
    for column in ("", *STATUSES):
        table.add_column(column, justify="right")
    table.add_row("files", *(str(summary["files"][s]) for s in STATUSES))
    u = summary["units"]
    table.add_row("units", str(u["changed"]), str(u["unchanged"]), str(u["rejected"]), "", str(u["too_long"]))
    console.print(table)
    say = lambda text, **kw: console.print(text, highlight=False, markup=False, **kw)
    say("(a skipped unit is too long for one span; a rejected one is left unchanged)", style="dim")
    for o in sorted(outcomes, key=lambda o: o.file):
        if o.reason:
            say(f"{o.status}: {o.file}: {o.reason}")
    say(f"{summary['tokens']} tokens in {summary['seconds']:.1f}s ({summary['tokens_per_s']} tok/s)")
    if journal:
        say(f"journal: {journal}", style="dim")


def as_json(summary: dict, outcomes: list[FileOutcome], journal: str = "") -> str:
    files = [asdict(o) for o in sorted(outcomes, key=lambda o: o.file)]
    return json.dumps({"summary": summary, "files": files, "journal": journal})
