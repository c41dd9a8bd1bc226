"""Atomic writes, the journal's rules for reuse, and the syntax guard's checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lsp_server.cli.batch import guard
from lsp_server.cli.batch import journal as jn
from lsp_server.cli.batch.units import split_units


def test_atomic_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "run.sh"
    path.write_text("old\n")
    os.chmod(path, 0o755)
    jn.atomic_write(path, "new\n", like=path)
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sh"]


def test_a_failed_atomic_write_leaves_the_original_and_no_temp_file(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        jn.atomic_write(path, "bad \udc80 text\n")  # fails mid-write, after the temp file was created
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_stale_temp_files_are_removed(tmp_path: Path):
    path = tmp_path / "a.py"
    jn.temp_path(path).write_text("half")
    (tmp_path / ".b.py.ie-tmp-1").write_text("other file's")
    jn.remove_stale_temps(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.py.ie-tmp-1"]


def unit(i: int) -> jn.UnitRecord:
    return jn.UnitRecord("a.py", "src", i, 0, 1, f"text{i}", "changed")


def test_journal_reuse_rules(tmp_path: Path):
    path = tmp_path / "j"
    first = jn.Journal.open(path, "key")
    first.add_units([unit(0), unit(1)])
    with pytest.raises(jn.JournalError, match="--resume"):
        jn.Journal.open(path, "key")  # unfinished, and no --resume
    resumed = jn.Journal.open(path, "key", resume=True)
    assert set(resumed.units) == {("a.py", "src", 0), ("a.py", "src", 1)}
    resumed.finish()
    assert len(jn.Journal.open(path, "key").units) == 2  # a finished run is reused by a plain re-run
    with pytest.raises(jn.JournalError, match="other settings"):
        jn.Journal.open(path, "other", resume=True)
    assert jn.Journal.open(path, "other").units == {}  # new settings, no --resume: a new journal
    assert jn.Journal.open(path, "other", restart=True).units == {}


def test_a_line_cut_short_by_a_kill_is_dropped(tmp_path: Path):
    path = tmp_path / "j"
    journal = jn.Journal.open(path, "key")
    journal.add_units([unit(0)])
    with open(path, "a") as fh:
        fh.write('{"t": "unit", "file": "a.py", "sr')
    resumed = jn.Journal.open(path, "key", resume=True)
    assert list(resumed.units) == [("a.py", "src", 0)]
    resumed.add_units([unit(1)])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["t"] for r in lines] == ["run", "unit", "start", "unit"]


SOURCE = "def f(a):\n    return a + 1\n\n\ndef g(b):\n    return b\n"


def test_guard_accepts_output_that_parses_and_locates_errors_in_output_that_does_not():
    units = split_units(SOURCE, "python", lambda t: True).units
    check = guard.check_for(SOURCE, units[0], "python", None)
    assert guard.error_region(check, "def f(a):\n    return a - 1") is None
    broken = "def f(a):\n    return (a +\n"
    region = guard.error_region(check, broken)
    assert region is not None and 0 <= region.start < region.end <= len(broken)
    request = guard.repair_request(SOURCE[: units[0].start], SOURCE[units[0].end :], broken, region)
    assert request.prefix + request.span + request.suffix == broken + SOURCE[units[0].end :]


def test_a_broken_file_is_guarded_region_by_region_and_translations_parse_alone():
    text = "def f(a:\n    return a\n\n\ndef g(b):\n    return b\n"
    units = split_units(text, "python", lambda t: True).units
    broken_unit = guard.check_for(text, units[0], "python", None)
    assert guard.error_region(broken_unit, "def f(a):\n    return a") is None  # fixing it is fine
    # Kept broken, tree-sitter's error region now swallows g too: more of the file is in error, which counts.
    assert guard.error_region(broken_unit, "def f(a:\n    return a + 1") is not None
    mid_edit = guard.check_for(text, units[-1], "python", None)  # a sound unit of a file broken elsewhere
    assert guard.error_region(mid_edit, "def g(b):\n    return b * 2") is None
    region = guard.error_region(mid_edit, "def g(b):\n    return [b *")
    assert region is not None and region.end > region.start
    good = split_units(SOURCE, "python", lambda t: True).units[0]
    check = guard.check_for(SOURCE, good, "python", "javascript")
    assert guard.error_region(check, "function f(a) { return a + 1; }") is None
    assert guard.error_region(check, "function f(a) { return a + ; ") is not None


def test_a_file_this_conversion_wrote_is_not_converted_again(tmp_path: Path):
    from lsp_server.cli.batch import plan, work
    from lsp_server.cli.batch.walk import walk

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "a.js").write_text("const x = 1;\n")
    journal = jn.Journal.open(tmp_path / "j", "key")
    journal.add_file(jn.FileRecord("a.py", "src", jn.digest("const x = 1;\n"), str((tmp_path / "a.js").resolve())))
    _, files = walk([tmp_path])
    out = work.Output("write", extension=".ts")
    mode = plan.Mode("to", language="typescript")
    outcomes = {str(f.rel): work.prepare(0, f, out, mode, lambda t: True, journal) for f in files}
    assert outcomes["a.js"] == work.FileOutcome("a.js", "skipped", "written by this conversion")
    assert isinstance(outcomes["a.py"], work.FileWork)
