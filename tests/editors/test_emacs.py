"""Emacs 28 + eglot 1.9 (Debian) applies an instant-edit code action with the real server and model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from editor_harness import (
    INSTRUCTION,
    REPAIR_LINES,
    check_server,
    require,
    run_scenario,
    server_command,
    server_env,
    unchanged_outside,
)

from lsp_server import spans

SCENARIO = Path(__file__).resolve().parent / "emacs_scenario.el"
TIMEOUT_S = 120
TITLES = ["Regenerate selection", "Repair selection", "Fill placeholders"]


@pytest.mark.slow
def test_emacs_eglot_code_action_and_rewrite(project, tmp_path):
    emacs = require(shutil.which("emacs"), "Emacs with eglot (apt-get install emacs-nox elpa-eglot)")
    check_server()
    result = tmp_path / "emacs-result.json"
    env = {
        **server_env(),
        "IE_FILE": str(project.file),
        "IE_RESULT": str(result),
        "IE_CMD": json.dumps(server_command()),
        "IE_INSTRUCTION": INSTRUCTION,
        "HOME": str(tmp_path),
    }
    out = run_scenario([emacs, "--batch", "-l", str(SCENARIO)], result, TIMEOUT_S, env, project.root)

    assert out["titles"] == TITLES, out["titles"]
    before, after_action = out["before"].splitlines(), out["after_action"].splitlines()
    # The server may answer "nothing changed" when the model keeps the text; either way only the range may change.
    assert unchanged_outside(before, after_action, *REPAIR_LINES), "the code action touched lines outside its range"
    # Whatever was applied adds no syntax error (the sample has one of its own, "retrun", which does not count).
    assert spans.edit_adds_errors(out["before"], out["after_action"], "python") is False, out["after_action"]
    rewrite = out["rewrite"]
    assert isinstance(rewrite["applied"], bool) and isinstance(rewrite["message"], str), rewrite
    # Saving in python-mode adds a final newline (require-final-newline): that is Emacs, not the rewrite.
    changed = out["after"].rstrip("\n") != out["after_action"].rstrip("\n")
    assert changed == rewrite["applied"], rewrite
    if rewrite["applied"]:
        assert spans.edit_adds_errors(out["after_action"], out["after"], "python") is False, out["after"]
    assert project.file.read_text() == out["after"], "the saved file differs from the buffer"
