"""`instant-edit convert` end to end with the real embedded model, in process (mechanics, not model quality)."""

from __future__ import annotations

import json
from pathlib import Path

from convert.tree import FAST, build, snapshot
from lsp_server import spans
from lsp_server.cli.batch.journal import JOURNAL_NAME
from lsp_server.cli.main import main

HINTS = ["--instruction", "Add type hints."]


def convert(capsys, *args: str) -> tuple[int, dict]:
    code = main(["convert", *args, *FAST, "--json"])
    return code, json.loads(capsys.readouterr().out)


def by_file(report: dict) -> dict[str, dict]:
    return {f["file"]: f for f in report["files"]}


def test_dry_run_prints_a_diff_and_a_summary_and_touches_nothing(tmp_path: Path, capsys):
    build(tmp_path)
    before = snapshot(tmp_path)
    code = main(["convert", str(tmp_path), *HINTS, *FAST])
    out, err = capsys.readouterr()
    assert code == 0
    assert snapshot(tmp_path) == before
    assert "instant-edit convert" in err and "skipped: blob.py: binary file" in err
    if "changed" in err:
        assert out.startswith("--- a/") or out == ""
    code, report = convert(capsys, str(tmp_path), *HINTS)
    files = by_file(report)
    assert set(files) == {
        "blob.py",
        "locked.py",
        "pkg0/mod0.py",
        "pkg0/mod2.py",
        "pkg1/mod1.py",
        "pkg1/mod3.py",
        "web/app0.js",
    }
    assert files["blob.py"]["status"] == "skipped"
    assert files["locked.py"]["status"] != "failed"  # read-only only matters when writing
    assert report["summary"]["units"]["total"] == sum(f["units"] for f in report["files"]) > 10
    for f in report["files"]:
        assert (f["status"] == "changed") == bool(f["diff"])
        assert f["diff"] == "" or f["diff"].startswith(f"--- a/{f['file']}\n+++ b/{f['file']}\n")


def test_write_then_rerun_is_a_no_op_and_failures_are_reported(tmp_path: Path, capsys):
    build(tmp_path)
    before = snapshot(tmp_path)
    code, report = convert(capsys, str(tmp_path), *HINTS, "--write")
    files = by_file(report)
    assert code == 1  # the read-only file could not be written
    assert files["locked.py"]["status"] == "failed" and files["locked.py"]["reason"] == "read-only file"
    assert files["blob.py"]["status"] == "skipped"
    after = snapshot(tmp_path)
    assert after["locked.py"] == before["locked.py"] and after["blob.py"] == before["blob.py"]
    for name, f in files.items():
        if name.endswith(".py") and f["status"] in ("changed", "unchanged", "rejected"):
            # The syntax guard: converted files parse (the originals did).
            assert spans.parses_cleanly(after[name].decode(), "python"), name
        assert (after[name] != before[name]) == (f["status"] == "changed"), name
    assert JOURNAL_NAME in after
    code, again = convert(capsys, str(tmp_path), *HINTS, "--write")
    assert code == 1
    assert {k: v for k, v in snapshot(tmp_path).items() if k != JOURNAL_NAME} == {
        k: v for k, v in after.items() if k != JOURNAL_NAME
    }
    redone = [f for f in again["files"] if f["status"] not in ("skipped", "failed")]
    assert redone and all(f["reason"] == "already converted (journal)" for f in redone)
    assert again["summary"]["tokens"] == 0


def test_out_writes_a_mirrored_tree_and_to_changes_extensions(tmp_path: Path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    build(src, awkward=False)
    before = snapshot(src)
    code, report = convert(capsys, str(src), "--to", "javascript", "--out", str(out))
    assert code == 0 and snapshot(src) == before
    written = snapshot(out)
    for f in report["files"]:
        rel = Path(f["dest"]).relative_to(out).as_posix()
        assert rel in written
        if f["status"] == "changed":
            assert rel == str(Path(f["file"]).with_suffix(".js"))
        else:
            assert rel == f["file"] and written[rel] == before[f["file"]]
    assert JOURNAL_NAME in written


def test_fill_converts_only_units_with_placeholders_and_repair_runs(tmp_path: Path, capsys):
    build(tmp_path, modules=2, js=0, awkward=False)
    target = tmp_path / "pkg0" / "mod0.py"
    target.write_text(target.read_text().replace("    return a + b\n", "    pass  # TODO\n"))
    code, report = convert(capsys, str(tmp_path), "--fill")
    files = by_file(report)
    assert code == 0
    assert files["pkg0/mod0.py"]["units"] == 1 and files["pkg1/mod1.py"]["units"] == 0
    code, report = convert(capsys, str(target), "--repair")
    assert code == 0 and by_file(report)["mod0.py"]["units"] == 6


def test_an_unfinished_run_needs_resume_and_bad_arguments_exit_2(tmp_path: Path, capsys):
    build(tmp_path, modules=1, js=0, awkward=False)
    (tmp_path / JOURNAL_NAME).write_text("")
    code, _ = convert(capsys, str(tmp_path), *HINTS, "--write")
    assert code == 0  # an empty journal is no run: a new one starts
    journal = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    (tmp_path / JOURNAL_NAME).write_text("\n".join(journal[:-1]) + "\n")  # as if killed before the end
    assert main(["convert", str(tmp_path), *HINTS, "--write", *FAST]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nope"), *HINTS, *FAST]) == 2
    assert main(["convert", str(tmp_path), "--to", "klingon", *FAST]) == 2


def test_translating_in_place_twice_leaves_the_translations_alone(tmp_path: Path, capsys):
    build(tmp_path, modules=2, js=1, awkward=False)
    code, first = convert(capsys, str(tmp_path), "--to", "javascript", "--write")
    assert code == 0
    assert by_file(first)["web/app0.js"]["units"] == 0  # already in the target language
    after = snapshot(tmp_path)
    code, second = convert(capsys, str(tmp_path), "--to", "javascript", "--write")
    assert code == 0 and second["summary"]["tokens"] == 0
    assert {k: v for k, v in snapshot(tmp_path).items() if k != JOURNAL_NAME} == {
        k: v for k, v in after.items() if k != JOURNAL_NAME
    }
    for f in second["files"]:
        done_before = f["reason"] in ("already converted (journal)", "written by this conversion")  # a translation
        assert f["status"] == "unchanged" and f["units"] == 0 or done_before, f
