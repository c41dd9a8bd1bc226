"""Checkpoint folders: save/reload round trip, and clear errors for broken folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import model
from model.checkpoint import CheckpointError, load_network, save_network
from model.engine import DEFAULT_CHECKPOINT


def copy_default(tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_CHECKPOINT, dst)
    return dst


def test_saved_and_reloaded_network_gives_the_same_logits(engine, tmp_path):
    save_network(engine.net, tmp_path / "again")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(DEFAULT_CHECKPOINT / name, tmp_path / "again" / name)
    reloaded = load_network(tmp_path / "again")
    ids = torch.randint(0, engine.net.cfg.vocab_size, (2, 40))
    with torch.inference_mode():
        assert torch.equal(engine.net(ids).logits, reloaded(ids).logits)


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        model.load(tmp_path / "nowhere")


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file_is_named(tmp_path, missing):
    folder = copy_default(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(CheckpointError, match=missing):
        model.load(folder)


def test_corrupt_weights_are_reported(tmp_path):
    folder = copy_default(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="unreadable"):
        model.load(folder)


def test_config_that_does_not_match_the_weights(tmp_path):
    folder = copy_default(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["hidden_size"] = 128
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape"):
        model.load(folder)


def test_invalid_config_json(tmp_path):
    folder = copy_default(tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        model.load(folder)


def test_tokenizer_files_load_with_autotokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(DEFAULT_CHECKPOINT))
    assert tok.mask_token == "<|mask|>" and tok.pad_token == "<|pad|>"
    text = "def f(x):\n    return x  # ünïcode\n"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_no_pickle_files_in_the_shipped_checkpoint():
    names = {p.name for p in DEFAULT_CHECKPOINT.iterdir()}
    assert "model.safetensors" in names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl")) for n in names)


def test_dtype_choice(monkeypatch):
    import model.engine as eng

    assert eng.pick_dtype("cuda", "auto") == torch.bfloat16
    assert eng.pick_dtype("cpu", "float32") == torch.float32
    expected = torch.bfloat16 if eng.cpu_has_fast_bf16() else torch.float32
    assert eng.pick_dtype("cpu", "auto") == expected
    monkeypatch.setenv("INSTANT_EDIT_DTYPE", "float32")
    assert eng.pick_dtype("cpu", "auto") == torch.float32
    with pytest.raises(ValueError, match="unknown dtype"):
        eng.pick_dtype("cpu", "float8")


def test_bf16_engine_infills_like_float32_on_most_lines(engine):
    """bf16 changes rounding, not the model: greedy lines mostly agree with float32."""
    import model
    from model.heldout import held_out_files, make_cases

    fast = model.load(dtype="bfloat16")
    assert next(fast.net.parameters()).dtype == torch.bfloat16
    cases = make_cases(held_out_files(), "line", 20, seed=1, tok=engine.tok)
    same = sum(fast.infill(c.request).text == engine.infill(c.request).text for c in cases)
    assert same >= 14, f"{same}/20 lines agree"
