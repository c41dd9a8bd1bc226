"""VS Code 1.100 (code-server) in headless Chromium: the packaged extension, the real server and model."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from editor_harness import (
    ARTIFACTS,
    EDITORS,
    EDITORS_DIR,
    EMPTY_STEPS,
    INLINE_FILE,
    INLINE_SAMPLE,
    PARTIAL_LINE,
    SOURCES,
    check_empty_line_step,
    check_server,
    report_unexercised,
    require,
    scenario_env,
    server_command,
    unchanged_outside,
    vscode_next_word,
)

from lsp_server import spans

HERE = Path(__file__).resolve().parent
EXTENSION = EDITORS / "vscode"
CODE_SERVER = EDITORS_DIR / "node_modules" / ".bin" / "code-server"
VSCE = EXTENSION / "node_modules" / ".bin" / "vsce"
TIMEOUT_S = 180
CODE_ACTION_TITLES = {"Regenerate selection", "Repair selection", "Fill placeholders"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list, timeout: int, **kw) -> None:
    proc = subprocess.run([str(c) for c in cmd], check=False, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        pytest.fail(f"{cmd} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _vsix(tmp: Path) -> tuple[Path, Path]:
    """The extension as users get it (built output, packaged with vsce) and the test driver, packaged too."""
    _run(["npm", "run", "compile"], 120, cwd=EXTENSION)
    ours, driver = tmp / "instant-edit.vsix", tmp / "driver.vsix"
    flags = ["--skip-license", "--allow-missing-repository"]
    _run([VSCE, "package", *flags, "-o", ours], 120, cwd=EXTENSION)
    _run([VSCE, "package", *flags, "-o", driver], 120, cwd=HERE / "vscode_driver")
    return ours, driver


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Block until code-server accepts connections; fail if it exits or never listens."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"code-server exited (rc {proc.returncode}): {proc.stdout.read() if proc.stdout else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"code-server did not listen on port {port} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    """End code-server and everything it started (extension host, language server)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def install(tmp_path: Path, settings: dict, server_log: Path) -> list:
    """Both extensions packaged and installed into a fresh code-server profile, whose user settings are
    `settings` plus the server command, set as a user would set it; returns code-server's base command."""
    ours, driver = _vsix(tmp_path)
    ext_dir, data_dir, config = tmp_path / "extensions", tmp_path / "user-data", tmp_path / "code-server.yaml"
    config.write_text("auth: none\ncert: false\n")
    base = [CODE_SERVER, "--config", config, "--extensions-dir", ext_dir, "--user-data-dir", data_dir]
    _run([*base, "--install-extension", ours, "--install-extension", driver], 120)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server_log.unlink(missing_ok=True)
    # A wrapper keeps the server's stderr for the artifacts (VS Code shows it only in its output panel).
    wrapper = tmp_path / "instant-edit-serve"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(server_command())} "$@" 2>>"{server_log}"\n')
    wrapper.chmod(0o755)
    user = data_dir / "User" / "settings.json"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(json.dumps({
        "instantEdit.server.path": str(wrapper),
        "instantEdit.server.args": [],
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        **settings,
    }))
    return base


def run_in_browser(
    base: list, root: Path, env: dict, script: Path, result: Path, shot: Path, log: Path, timeout_s: int = TIMEOUT_S
) -> dict:
    """code-server on `root` and `script` (node: URL RESULT SCREENSHOT TIMEOUT_MS) in headless Chromium, until the
    driver extension writes `result`; code-server's output goes to `log`. Returns the driver's JSON."""
    port = _free_port()
    flags = ["--auth", "none", "--disable-workspace-trust", "--disable-telemetry", "--disable-update-check"]
    server = subprocess.Popen(
        [str(c) for c in [*base, "--bind-addr", f"127.0.0.1:{port}", *flags, "--disable-getting-started-override", root]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        _wait_listening(port, server)
        url = f"http://127.0.0.1:{port}/?folder={root}"
        browser = subprocess.run(
            ["node", script, url, result, shot, str(timeout_s * 1000 - 30000)],
            check=False, env=env, capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the VS Code run did not finish within {timeout_s} s: {e.stderr}")
    finally:
        _stop(server)
    output = server.stdout.read() if server.stdout else ""
    log.write_text(output)
    if browser.returncode != 0:
        pytest.fail(
            f"browser run failed after {time.monotonic() - started:.0f} s: {browser.stderr[-3000:]}\n"
            f"code-server log tail:\n{output[-3000:]}"
        )
    out = json.loads(result.read_text())
    assert "failure" not in out, out.get("failure")
    return out


@pytest.mark.slow
def test_vscode_code_action_rewrite_and_inline(project, tmp_path):
    require(str(CODE_SERVER) if CODE_SERVER.exists() else None, "code-server 4.100.3")
    chromium = require(shutil.which("chromium"), "Chromium")
    check_server()
    base = install(tmp_path, {"editor.inlineSuggest.enabled": True}, ARTIFACTS / "server.log")
    result, shot = tmp_path / "vscode-result.json", ARTIFACTS / "vscode.png"
    (project.root / INLINE_FILE).write_text(INLINE_SAMPLE)
    env = {
        **scenario_env(project.root, project.file, result),
        "IE_CHROMIUM": chromium,
        "NODE_PATH": str(EDITORS_DIR / "node_modules"),
    }
    out = run_in_browser(base, project.root, env, HERE / "vscode_browser.js", result, shot, ARTIFACTS / "code-server.log")
    (ARTIFACTS / "vscode-result.json").write_text(json.dumps(out, indent=1))
    _check(out, project.file, project.root / INLINE_FILE)


def _check(out: dict, file: Path, second: Path) -> None:
    assert out["status"]["state"] == "ready", out["status"]
    steps = out["steps"]
    action = steps["code_action"]
    assert set(action["titles"]) == CODE_ACTION_TITLES, action["titles"]
    if action["has_edit"]:
        assert action["applied"] and action["after"] != action["before"], action
        assert unchanged_outside(action["before"].splitlines(), action["after"].splitlines(), 1, 2)
        # What was applied adds no syntax error (the sample has one of its own, "retrun", which does not count).
        assert spans.edit_adds_errors(action["before"], action["after"], "python") is False, action
    else:
        assert action["after"] == action["before"], "no edit came back, yet the document changed"

    rewrite = steps["rewrite"]
    result = rewrite["result"]
    assert result is not None and isinstance(result["applied"], bool) and isinstance(result["message"], str), rewrite
    assert rewrite["drafts"] >= 1, "no instantEdit/draft notification reached the extension"
    assert (rewrite["after"] != rewrite["before"]) == result["applied"], rewrite
    if result["applied"]:
        assert spans.edit_adds_errors(rewrite["before"], rewrite["after"], "python") is False, rewrite
    elif result.get("refused"):  # refused: untouched (above), and the reason and the second action come along
        assert result.get("applyAnyway", {}).get("title", "").startswith("Apply anyway"), result

    assert out["saved"] and file.read_text() == out["final"]
    missing = steps["missing_server"]
    assert "/nonexistent/instant-edit" in missing["notice"] and "pip install" in missing["notice"], missing
    assert missing["client_gone"], "the old client must be stopped when the server path changes"
    assert second.read_text() == INLINE_SAMPLE, "the second file is back as it was after its steps"
    missing = [why for why in _check_inline_steps(steps) if why]
    # The status bar names the last completion's confidence and where it came from.
    assert re.search(r"completion \d\.\d\d \((\w+)\)", out["status_text"] or ""), out["status_text"]
    inline = steps["inline"]
    if not inline["accepted"] and inline["server_items"] == 0:
        missing.append("sample.py: the model returned no inline suggestion")
    else:
        assert inline["accepted"], f"no inline completion was accepted: {inline['error']}"
        row = inline["line"] - 1
        assert inline["after"].splitlines()[row].startswith(inline["before"].splitlines()[row])
        assert spans.edit_adds_errors(inline["before"], inline["after"], "python") is False, inline
    report_unexercised(missing)


def _check_inline_steps(steps: dict) -> list[str | None]:
    """The second file's steps; returns, per step, why it could not be exercised (None when it was)."""
    why = []
    for name, row, col in EMPTY_STEPS:
        step = steps[name]
        why.append(check_empty_line_step(name, step, row, col))
        if not why[-1]:
            assert step["committed"] is True, f"{name}: {step['committed']}"

    row, line = PARTIAL_LINE
    partial = steps["partial"]
    if partial["why_not"] == "no suggestion":
        why.append("partial accept: the server offered no suggestion")
    else:
        assert partial["why_not"] is None, partial["why_not"]
        text = partial["items"][0]["insertText"]
        word = vscode_next_word(text)
        assert word != text, f"the suggestion {text!r} has one word only: no rest to keep shown"
        # acceptNextWord put exactly the first word in; the rest was still shown, since commit put it in too.
        assert partial["word"] is True and partial["after_word"] == line + word, partial
        assert partial["rest"] is True and partial["after_rest"] == line + text, partial

    typing = steps["typing"]
    if typing["why_not"] == "no suggestion":
        why.append("typing through: the server offered no suggestion")
    else:
        assert typing["why_not"] is None, typing["why_not"]
        text = typing["items"][0]["insertText"]
        assert typing["after_type"] == line + text[0], typing
        # The rest stayed shown (commit put it in), and no answer after the keystroke came from the model.
        assert typing["rest"] is True and typing["after_rest"] == line + text, typing
        assert "model" not in typing["sources"], f"typing through the suggestion ran the model: {typing['sources']}"
        assert set(typing["sources"]) <= SOURCES, typing["sources"]
    return why


def test_vscode_extension_unit_tests():
    """`npm test` of editors/vscode (settings, executable lookup, protocol helpers, manifest) under pytest."""
    npm = require(shutil.which("npm"), "npm")
    if not (EXTENSION / "node_modules").is_dir():
        require(None, "editors/vscode/node_modules (npm ci)")
    try:
        proc = subprocess.run([npm, "test"], check=False, cwd=EXTENSION, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"npm test did not finish within 120 s: {e.stdout}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout, proc.stdout[-4000:]
