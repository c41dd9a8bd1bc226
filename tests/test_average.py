"""Soups of runs (model/average.py): two real sibling runs averaged through the CLI, and the errors it gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import model
from model import InfillRequest
from model.average import average_runs
from model.checkpoint import CheckpointError, load_network, save_network
from model.engine import DEFAULT_CHECKPOINT
from model.grow import grow_depth

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def siblings(tmp_path_factory) -> tuple[Path, Path]:
    """Two short runs from the shipped checkpoint on the same files, with their own seeds."""
    tmp = tmp_path_factory.mktemp("siblings")
    src = tmp / "src"
    src.mkdir()
    for name in ("textwrap.py", "bisect.py", "colorsys.py"):
        shutil.copy(STDLIB / name, src / name)
    runs = []
    for seed in (1, 2):
        out = tmp / f"run{seed}"
        proc = cli("train", "--out", str(out), "--resume", str(DEFAULT_CHECKPOINT), "--roots", str(src),
                   "--seq-len", "96", "--batch-size", "2", "--minutes", "0.03", "--save-every-minutes", "100",
                   "--seed", str(seed), cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        runs.append(out)
    return runs[0], runs[1]


def test_the_soup_holds_the_mean_weights_and_every_runs_history(siblings, tmp_path):
    a, b = siblings
    out = tmp_path / "soup"
    proc = cli("average", str(a), str(b), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    wa, wb, soup = (load_file(str(d / "model.safetensors")) for d in (a, b, out))
    assert set(soup) == set(wa)
    changed = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert changed, "the two seeds should train different weights"
    for k in wa:
        assert torch.allclose(soup[k], (wa[k] + wb[k]) / 2, atol=1e-7)

    runs = [json.loads(x) for x in (out / "runs.jsonl").read_text().splitlines()]
    shipped = (DEFAULT_CHECKPOINT / "runs.jsonl").read_text().splitlines()
    own_a = [json.loads(x) for x in (a / "runs.jsonl").read_text().splitlines()][len(shipped):]
    own_b = [json.loads(x) for x in (b / "runs.jsonl").read_text().splitlines()][len(shipped):]
    assert len(own_a) == len(own_b) == 1
    assert runs == [json.loads(x) for x in shipped] + own_a + own_b + [runs[-1]]
    assert runs[-1]["recipe"] == "average" and "run1, run2" in runs[-1]["note"]

    start = json.loads((DEFAULT_CHECKPOINT / "train_state.json").read_text())
    state = json.loads((out / "train_state.json").read_text())
    assert state["tokens_seen"] == start["tokens_seen"] + own_a[0]["tokens"] + own_b[0]["tokens"]
    assert state["step"] == start["step"] + own_a[0]["steps"] + own_b[0]["steps"]
    assert not (out / "optimizer.safetensors").exists()
    assert "weights averaged: run1, run2" in (out / "MODEL_CARD.md").read_text()

    engine = model.load(str(out), device="cpu")
    result = engine.infill(InfillRequest("def add(a, b):\n    ", "\n\n\nprint(add(1, 2))\n", single_line=True))
    assert result.nfe >= 1


def test_a_soup_is_a_run_to_resume(siblings, tmp_path):
    a, b = siblings
    soup = average_runs([a, b], tmp_path / "soup")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(STDLIB / "colorsys.py", src / "colorsys.py")
    out = tmp_path / "next"
    proc = cli("train", "--out", str(out), "--resume", str(soup), "--roots", str(src), "--seq-len", "96",
               "--batch-size", "2", "--minutes", "0.02", "--save-every-minutes", "100", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    before = json.loads((soup / "train_state.json").read_text())
    after = json.loads((out / "train_state.json").read_text())
    assert after["tokens_seen"] > before["tokens_seen"]


def test_runs_of_different_networks_or_broken_weights_are_refused_clearly(tmp_path):
    deeper = tmp_path / "deeper"
    shutil.copytree(DEFAULT_CHECKPOINT, deeper)
    save_network(grow_depth(load_network(DEFAULT_CHECKPOINT), 5), deeper)
    proc = cli("average", str(DEFAULT_CHECKPOINT), str(deeper), "--out", str(tmp_path / "soup"), cwd=tmp_path)
    assert proc.returncode == 2 and "config.json differ" in proc.stderr
    assert not (tmp_path / "soup").exists()
    proc = cli("average", str(tmp_path / "missing"), str(DEFAULT_CHECKPOINT), "--out", str(tmp_path / "soup"),
               cwd=tmp_path)
    assert proc.returncode == 2 and "checkpoint folder not found" in proc.stderr and "Traceback" not in proc.stderr

    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT_CHECKPOINT, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="unreadable"):
        average_runs([DEFAULT_CHECKPOINT, broken], tmp_path / "soup2")
    with pytest.raises(ValueError, match="two checkpoints"):
        average_runs([DEFAULT_CHECKPOINT], tmp_path / "soup3")
    with pytest.raises(ValueError, match="new folder"):
        average_runs([DEFAULT_CHECKPOINT, broken], broken)
