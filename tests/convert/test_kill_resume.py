"""kill -9 at random moments during `convert --write`: every file stays original or fully converted, and
`--resume` finishes the run without redoing or double-applying anything."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from convert.tree import FAST, build, snapshot
from lsp_server.cli.batch.journal import JOURNAL_NAME

KILLS = 10


def command(tree: Path) -> list[str]:
    # Small windows and batches so files are written all through the run, not in one burst at its end.
    return [
        sys.executable,
        "-m",
        "lsp_server.cli",
        "convert",
        str(tree),
        "--instruction",
        "Add type hints.",
        "--write",
        "--resume",
        "--window",
        "3",
        "--batch-size",
        "2",
        *FAST,
        "--json",
    ]


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_at_random(tree: Path, rng: random.Random) -> bool:
    """Start a run, let it journal a random few more records, kill -9 it a random moment later.

    Returns False when the run finished before the kill. Waiting on the journal (not the clock) spreads the
    kills over the whole conversion whatever the machine's speed; the extra delay lands them between writes.
    """
    journal = tree / JOURNAL_NAME
    target = lines(journal) + rng.randint(2, 8)
    proc = subprocess.Popen(command(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and lines(journal) < target and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0.0, 0.05))
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


def test_kill_9_during_write_then_resume(tmp_path: Path):
    tree = tmp_path / "tree"
    build(tree, modules=12, js=2, awkward=False)
    original = snapshot(tree)
    rng = random.Random(6)
    seen: list[dict[str, bytes]] = []
    kills = 0
    for _ in range(3 * KILLS):
        if kills == KILLS:
            break
        kills += kill_at_random(tree, rng)
        seen.append(snapshot(tree))
    assert kills == KILLS, "the run finished before it could be killed often enough"
    done = subprocess.run(command(tree), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    final = snapshot(tree)
    sources = [name for name in original]
    assert sorted(n for n in final if n != JOURNAL_NAME) == sorted(sources)  # no temp file left behind
    changed = [n for n in sources if final[n] != original[n]]
    assert changed, "nothing was converted: the test would prove nothing"
    for state in seen:
        for name in sources:
            # Each file was written once, atomically: before the kill it was the original or the final text.
            assert state[name] in (original[name], final[name]), name
    units = report["summary"]["units"]
    assert units["total"] > 0 and report["summary"]["files"]["failed"] == 0
    journal = [json.loads(line) for line in (tree / JOURNAL_NAME).read_text().splitlines()]
    unit_keys = [(r["file"], r["src"], r["unit"]) for r in journal if r["t"] == "unit"]
    assert len(unit_keys) == len(set(unit_keys)), "a unit was converted twice"
    written = [r["file"] for r in journal if r["t"] == "file"]
    assert sorted(set(written)) == sorted(sources)


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path):
    tree = tmp_path / "tree"
    build(tree, modules=4, js=0, awkward=False)
    original = snapshot(tree)
    proc = subprocess.Popen(command(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and lines(tree / JOURNAL_NAME) < 4 and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    if proc.returncode != 0:  # it may have finished just before the signal
        assert proc.returncode == 130 and "--resume" in err
    middle = snapshot(tree)
    assert all(".ie-tmp-" not in name for name in middle)
    done = subprocess.run(command(tree), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = snapshot(tree)
    assert all(middle[n] in (original[n], final[n]) for n in original)


def test_a_full_disk_fails_that_file_only(tmp_path: Path):
    """RLIMIT_FSIZE makes writes past a size fail with EFBIG, as a full disk fails them with ENOSPC."""
    import resource

    src, out = tmp_path / "src", tmp_path / "out"
    build(src, modules=2, js=0, awkward=False)
    big = src / "big.py"
    big.write_text("def f(a):\n    return a\n\n\nDATA = '" + "x" * 200_000 + "'\n")
    limit = 100_000  # the journal and the small files stay under it; big.py's copy does not

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [
        sys.executable,
        "-m",
        "lsp_server.cli",
        "convert",
        str(src),
        "--instruction",
        "Add type hints.",
        "--out",
        str(out),
        *FAST,
        "--json",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=limited)
    assert done.returncode == 1, done.stderr
    files = {f["file"]: f for f in json.loads(done.stdout)["files"]}
    assert files["big.py"]["status"] == "failed" and "File too large" in files["big.py"]["reason"]
    assert {files[n]["status"] for n in files if n != "big.py"} <= {"changed", "unchanged", "rejected"}
    written = snapshot(out)
    assert "big.py" not in written and not any(".ie-tmp-" in n for n in written)
    assert {"pkg0/mod0.py", "pkg1/mod1.py"} <= set(written)
