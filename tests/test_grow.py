"""Growing the embedded model deeper (model/grow.py): the grown network answers as the trained one, and trains on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

import model
from model.checkpoint import load_network
from model.engine import DEFAULT_CHECKPOINT
from model.grow import grow_depth, insert_after

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_new_blocks_are_spread_between_the_trained_ones():
    assert insert_after(4, 2) == [1, 3]
    assert insert_after(4, 4) == [0, 1, 2, 3]
    assert insert_after(4, 0) == []
    assert insert_after(4, 8) == [0, 0, 1, 1, 2, 2, 3, 3]  # more than doubled: two after each


def test_the_grown_network_gives_the_same_logits_and_the_same_answers():
    net = load_network(DEFAULT_CHECKPOINT).eval()
    grown = grow_depth(net, 6).eval()
    assert grown.cfg.num_hidden_layers == 6 and len(grown.model.layers) == 6
    assert grown.num_parameters() > net.num_parameters()
    assert grown.lm_head.weight is grown.model.embed_tokens.weight  # still tied
    source = (ROOT / "examples" / "sample.py").read_text()
    engine = model.load(None, device="cpu")
    ids = torch.tensor([engine.tok.encode(source)])
    with torch.no_grad():
        assert torch.equal(net(ids).logits, grown(ids).logits)
    with pytest.raises(ValueError, match="cannot grow"):
        grow_depth(net, 3)


def test_train_grows_a_resumed_run_and_trains_it(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("textwrap.py", "bisect.py", "colorsys.py"):
        shutil.copy(STDLIB / name, src / name)
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "lsp_server.cli", "train", "--out", str(out), "--resume", str(DEFAULT_CHECKPOINT),
        "--grow-layers", "6", "--roots", str(src), "--seq-len", "96", "--batch-size", "2", "--tokens", "0",
        "--minutes", "0.05", "--save-every-minutes", "100",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "grew" in proc.stderr and "6 layers" in proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == 6
    before = json.loads((DEFAULT_CHECKPOINT / "train_state.json").read_text())["step"]
    assert json.loads((out / "train_state.json").read_text())["step"] > before  # it trained, grown
    assert load_network(out).cfg.num_hidden_layers == 6
    # The run's record names the network it trained, not the command line's default size.
    assert json.loads((out / "train_config.json").read_text())["num_hidden_layers"] == 6
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0 and "grew" not in again.stderr  # already that deep: nothing to do

    empty = subprocess.run(
        [sys.executable, "-m", "lsp_server.cli", "train", "--out", str(tmp_path / "new"), "--grow-layers", "6",
         "--roots", str(src), "--minutes", "0.01"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert empty.returncode == 2 and "no network to grow" in empty.stderr and "Traceback" not in empty.stderr
