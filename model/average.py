"""One checkpoint whose weights are the mean of several runs' weights: a soup of runs from one start.

Runs that start from the same checkpoint and see different batches stay in one basin of the loss, so the mean
of their weights scores better than each of them (Wortsman et al. 2022, "Model soups"). Here that turns the
second core into training: two runs from the last committed checkpoint, one per core with their own seeds,
averaged at the end of the session, where two threads in one run are slower than one (README, session 29's
measurements in the model card's "Averaging comparison").

The soup keeps the history of every run it is made of (runs.jsonl) and one more record for the averaging; its
token count is the start's plus what each run added, since every run's tokens went into it.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from model.card import hardware, read_json, read_runs, record_run
from model.checkpoint import CheckpointError, read_config, read_weights
from model.train import STABLE_WEIGHTS

WEIGHTS = "model.safetensors"
# Per-run files a soup does not take from its first run: its own weights, state and history are written here,
# and an optimizer's moments or a wsd run's stable weights belong to one trajectory only (a resumed soup starts
# with fresh moments and warms up again, as a run resumed from any committed checkpoint does).
OWN_FILES = {WEIGHTS, "optimizer.safetensors", STABLE_WEIGHTS, "train_state.json", "runs.jsonl",
             "train_log.jsonl", "MODEL_CARD.md", "eval.json"}


def mean_weights(folders: list[Path]) -> dict[str, torch.Tensor]:
    """The tensors of `folders`' networks averaged in float32 and stored in the first one's dtypes."""
    states = [read_weights(f) for f in folders]  # first: a missing folder or file is named before configs are read
    configs = [read_config(f).to_hf_dict() for f in folders]
    for folder, cfg in zip(folders[1:], configs[1:]):
        if cfg != configs[0]:
            raise CheckpointError(f"cannot average {folder} with {folders[0]}: their config.json differ")
    first = states[0]
    for folder, state in zip(folders[1:], states[1:]):
        if set(state) != set(first) or any(state[k].shape != first[k].shape for k in first):
            raise CheckpointError(f"cannot average {folder} with {folders[0]}: their tensors differ")
    return {k: (sum(s[k].float() for s in states) / len(states)).to(first[k].dtype).contiguous() for k in first}


def merged_history(folders: list[Path]) -> tuple[list[dict], dict]:
    """The runs of every folder, each once (the history they share first), and the first folder's training
    state with the tokens, time and steps of the other folders' own runs added."""
    runs = read_runs(folders[0])
    state = dict(read_json(folders[0] / "train_state.json") or {})
    per_token = state.get("step", 0) / max(1, state.get("tokens_seen", 0))  # for runs recorded without steps
    for folder in folders[1:]:
        own = read_runs(folder)
        common = next((i for i, (a, b) in enumerate(zip(own, runs)) if a != b), min(len(own), len(runs)))
        for run in own[common:]:
            runs.append(run)
            state["tokens_seen"] = state.get("tokens_seen", 0) + run.get("tokens", 0)
            state["elapsed_s"] = state.get("elapsed_s", 0.0) + run.get("wall_s", 0.0)
            state["step"] = state.get("step", 0) + run.get("steps", round(run.get("tokens", 0) * per_token))
    if state:
        state["stable_step"], state["stable_tokens"] = 0, 0  # no stable weights travel with a soup
    return runs, state


def average_runs(folders: list[Path], out: Path) -> Path:
    """Write the soup of `folders` (two or more checkpoints of one network) into `out`; returns `out`."""
    if len(folders) < 2:
        raise ValueError("averaging needs two checkpoints or more")
    if any(out.resolve() == f.resolve() for f in folders):
        raise ValueError(f"{out} is one of the checkpoints averaged; write the soup to a new folder")
    start = time.time()
    tensors = mean_weights(folders)
    runs, state = merged_history(folders)
    out.mkdir(parents=True, exist_ok=True)
    for f in folders[0].iterdir():
        if f.is_file() and f.name not in OWN_FILES:
            shutil.copy2(f, out / f.name)
    save_file(tensors, str(out / WEIGHTS), metadata={"format": "pt"})
    (out / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    if state:
        (out / "train_state.json").write_text(json.dumps(state, indent=2) + "\n")
    record_run(out, {
        "hardware": hardware(), "precision": "float32", "recipe": "average", "wall_s": round(time.time() - start, 1),
        "tokens": 0, "final_loss": None,
        "note": "weights averaged: " + ", ".join(f.name if f.name not in ("", ".") else str(f) for f in folders),
    })
    return out
