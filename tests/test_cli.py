"""The CLI as a user runs it: a subprocess on a sample file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "lsp_server.cli", *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture()
def sample_file(tmp_path, sample_source):
    path = tmp_path / "sample.py"
    path.write_text(sample_source)
    return path


def test_infill_range_round_trip_keeps_everything_outside_the_span(sample_file, sample_source):
    lines = sample_source.split("\n")
    row = lines.index("    return a + b") + 1
    proc = cli("infill", str(sample_file), "--range", f"{row}:5-{row}:17")
    out = proc.stdout
    start = sum(len(x) + 1 for x in lines[: row - 1]) + 4
    end = start + len("return a + b")
    assert out.startswith(sample_source[:start])
    assert out.endswith(sample_source[end:])
    assert "model calls" in proc.stderr
    assert sample_file.read_text() == sample_source  # the CLI prints; it never writes the file


def test_insertion_at_a_point(sample_file, sample_source):
    proc = cli("infill", str(sample_file), "--at", "1:1", "--schedule", "fixed", "--tokens-per-step", "8")
    assert proc.stdout.endswith(sample_source)


def test_diff_output(sample_file):
    proc = cli("infill", str(sample_file), "--range", "15:5-15:17", "--diff")
    assert proc.stdout == "" or proc.stdout.startswith("--- a/")


@pytest.mark.parametrize("where", [["--range", "999:1-999:2"], ["--range", "1:500-1:501"], ["--at", "0:1"],
                                   ["--range", "3:1-1:1"], ["--at", "abc"]])
def test_bad_positions_are_clear_errors(sample_file, where):
    proc = cli("infill", str(sample_file), *where, check=False)
    assert proc.returncode == 2
    assert "instant-edit:" in proc.stderr and "Traceback" not in proc.stderr


def test_non_utf8_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "latin1.py"
    data = "x = 'caf\xe9'\n".encode("latin-1")
    path.write_bytes(data)
    proc = cli("infill", str(path), "--at", "1:1", check=False)
    assert proc.returncode != 0 and "not UTF-8" in proc.stderr
    assert path.read_bytes() == data


def test_broken_model_path_is_a_clear_error(sample_file, tmp_path):
    proc = cli("infill", str(sample_file), "--at", "1:1", "--model", str(tmp_path / "missing"), check=False)
    assert proc.returncode == 2 and "checkpoint folder not found" in proc.stderr


def test_bench_prints_one_json_object_last(tmp_path):
    proc = cli("bench", "--spans", "3")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for mode in ("baseline", "threshold", "threshold_cache"):
        assert set(report[mode]) >= {"p50_ms", "p95_ms", "tokens_per_s", "nfe_per_token", "exact_match", "peak_rss_mb"}
    assert report["spans"] == 3 and report["context_tokens"] > 0
    assert report["baseline"]["nfe_per_token"] >= report["threshold"]["nfe_per_token"] or report["baseline"]["tokens_per_s"] == 0


def test_eval_reports_every_metric_for_the_chosen_samplers():
    proc = cli("eval", "--kinds", "line", "--cases", "3", "--samplers", "fast", "greedy_frontier")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report["line"]) == {"fast", "greedy_frontier"}
    for metrics in report["line"].values():
        assert metrics["cases"] == 3
        assert 0 <= metrics["exact_match"] <= 1 and 0 <= metrics["parse_rate"] <= 1
        assert metrics["nfe_per_token"] > 0


def test_eval_against_pairs_two_checkpoints_on_the_same_holes():
    """`eval --against`: each side's figures are what a plain eval of that model gives on those holes, and the
    splits count holes only one side gets right (none when a model meets itself)."""
    root = Path(__file__).resolve().parent.parent
    default, candidate = root / "model" / "weights" / "default", root / "model" / "weights" / "candidate"
    args = ("--kinds", "line", "--cases", "4", "--samplers", "fast", "--seed", "3")
    proc = cli("eval", "--model", str(candidate), "--against", str(default), *args, "--likelihood")
    paired = json.loads(proc.stdout.strip().splitlines()[-1])["line"]

    def alone_report(m: Path) -> dict:
        return json.loads(cli("eval", "--model", str(m), *args, "--likelihood").stdout.strip().splitlines()[-1])

    alone = {m: alone_report(m)["line"] for m in (candidate, default)}
    assert paired["fast"]["a"] == alone[candidate]["fast"] and paired["fast"]["b"] == alone[default]["fast"]
    assert paired["likelihood"] == {"a": alone[candidate]["likelihood"], "b": alone[default]["likelihood"]}
    assert "exact A / B" in proc.stderr and f"B: {default}" in proc.stderr
    same = json.loads(cli("eval", "--against", str(default), *args).stdout.strip().splitlines()[-1])["line"]["fast"]
    assert same["a"] == same["b"]
    assert same["exact"] == same["parses"] == {"only_a": 0, "only_b": 0, "p": 1.0}


@pytest.mark.parametrize("other", [["--gates"], ["--next-edit"], ["--write-card"]])
def test_eval_against_refuses_what_measures_one_model(other):
    """The gates, next edits and the card measure one model: with --against, one clear line and exit 2, before
    anything is loaded or written."""
    proc = cli("eval", "--against", "model/weights/default", *other, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    said = "instant-edit eval: --against compares held-out holes only; it does not take "
    assert proc.stderr.strip() == said + other[0]


def test_sign_test_is_the_exact_two_sided_binomial():
    from model.paired import sign_test

    assert sign_test(0, 0) == 1.0 and sign_test(4, 4) == 1.0
    assert sign_test(0, 5) == sign_test(5, 0) == 2 / 32  # all 5 one way: 2 * (1/2)^5
    assert abs(sign_test(5, 13) - 0.0963) < 1e-4


def test_next_edits_makes_the_edits_and_prints_the_ones_they_call_for(tmp_path):
    """A rename at one place: the other uses are judged by the real model; margin -100 keeps them all, so the
    test checks the plumbing, not the model's judgement (README "Next edits" has that)."""
    path = tmp_path / "m.py"
    source = "def f(values):\n    total = sum(values)\n    return total / len(values)\n"
    path.write_text(source)
    proc = cli("next-edits", str(path), "--edit", "1:7-1:13=items", "--margin", "-100")
    rows = proc.stdout.splitlines()
    assert sorted(r.split("  ")[:2] for r in rows) == [["2:17-2:23", "'values' -> 'items'"], ["3:24-3:30", "'values' -> 'items'"]]
    assert all("(gain " in r for r in rows)  # best first, each with the model's gain
    assert "2 of 2 candidates suggested" in proc.stderr
    diff = cli("next-edits", str(path), "--edit", "1:7-1:13=items", "--margin", "-100", "--diff").stdout
    assert "+def f(items):\n" in diff and "+    return total / len(items)\n" in diff
    assert path.read_text() == source  # printed, never written
    one_line = tmp_path / "one.py"
    one_line.write_text("x = 1\n")
    nothing = cli("next-edits", str(one_line), "--edit", "1:5-1:6=2")  # nothing else in the file to change
    assert nothing.stdout == "" and "no candidates" in nothing.stderr
    rewrite = cli("next-edits", str(path), "--edit", "2:5-2:5=# sum first\\n    ", "--nearby", "3", "--diff")
    assert "+    # sum first\n" in rewrite.stdout and "lines around them written anew" in rewrite.stderr
    bad = cli("next-edits", str(path), "--edit", "9:1-9:2=x", check=False)
    assert bad.returncode == 2 and "line 9 is past the end" in bad.stderr


def test_the_readme_demos_print_what_the_readme_says():
    """The README's first command and the examples beside it, run as printed there, on the embedded model: if a
    new default model stops making these edits, the README must change with it."""
    root = Path(__file__).resolve().parent.parent
    unfinished = root / "examples" / "unfinished.py"
    readme = (root / "README.md").read_text()
    assert "instant-edit infill examples/unfinished.py --at 20:21 --diff" in readme
    first = cli("infill", str(unfinished), "--at", "20:21", "--diff").stdout
    assert "-        return self.\n" in first and "+        return self.count\n" in first
    second = cli("infill", str(unfinished), "--at", "7:15", "--diff")
    # Session 28's default writes the right name (session 27's added a stray trailing comma); the README says so.
    assert "+    with open(path) as fh:\n" in second.stdout
    # An insertion asked for says something (`--allow-empty` lets the model answer nothing), with its confidence.
    assert re.search(r"instant-edit: [1-9]\d* tokens in .*, confidence 0\.\d\d", second.stderr)
    follow = cli("next-edits", str(root / "examples" / "sample.py"), "--edit", "6:5-6:11=config", "--diff").stdout
    assert "+            config[key.strip()] = value.strip()\n" in follow and "+    return config\n" in follow
    assert "instant-edit infill examples/typos.py --range 1:1-19:1 --repair --diff" in readme
    typos = cli("infill", str(root / "examples" / "typos.py"), "--range", "1:1-19:1", "--repair", "--diff")
    assert "+            values[key.strip()] = value.strip()\n" in typos.stdout
    assert "+    return values\n" in typos.stdout
    assert "+        amount -= amount * discount\n" in typos.stdout
    assert "Repair: 3 edits" in typos.stderr and "retrun -> return" in typos.stderr  # the server's Repair message


def test_repair_from_the_command_line_leaves_correct_code_alone(tmp_path):
    """`infill --repair` runs the server's Repair (actions.repair): on correct code it changes nothing, says why,
    and the file on disk is untouched."""
    path = tmp_path / "ok.py"
    source = "def add(a, b):\n    return a + b\n"
    path.write_text(source)
    out = cli("infill", str(path), "--range", "2:1-2:17", "--repair")
    assert out.stdout == source
    assert "Repair: nothing to repair" in out.stderr
    assert path.read_text() == source
