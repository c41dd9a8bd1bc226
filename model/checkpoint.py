"""Checkpoint folders in Hugging Face layout: config.json, model.safetensors, tokenizer files. No pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.config import ModelConfig
from model.network import Denoiser

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class CheckpointError(Exception):
    """A checkpoint folder that cannot be loaded; the message names the path and what is wrong."""


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint {folder} is missing {name}")


def read_config(folder: Path) -> ModelConfig:
    try:
        return ModelConfig.from_file(folder / "config.json")
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {folder}: config.json is not a valid config ({e})") from e


def stored_tensors(model: Denoiser) -> dict[str, torch.Tensor]:
    """The network's tensors as a checkpoint stores them (a tied head once, as Qwen2 does)."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if model.cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    return state


def load_stored(model: Denoiser, state: dict[str, torch.Tensor], folder: Path) -> None:
    """Put stored tensors into `model`, every name and shape checked against it first (`check_tensors`)."""
    expected = model.state_dict()
    if model.cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
        expected.pop("lm_head.weight")
    check_tensors(folder, state, expected)
    model.load_state_dict(state, strict=False)


def save_network(model: Denoiser, folder: Path) -> None:
    """Write config.json and model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.cfg.to_hf_dict(), indent=2) + "\n")
    save_file(stored_tensors(model), str(folder / "model.safetensors"), metadata={"format": "pt"})


def check_tensors(folder: Path, state, expected: dict, shown=lambda name: name) -> None:
    """Same tensor names and shapes as the network, or an error naming the first differences.

    `shown` turns a network name into the name the checkpoint spells it with (families rename tensors).
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(shown(n) for n in set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {folder}: tensors do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"checkpoint {folder}: {shown(name)} has shape {tuple(tensor.shape)}, "
                f"config needs {tuple(expected[name].shape)}"
            )


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The stored tensors of a checkpoint folder, unchecked against any config."""
    check_folder(folder)
    try:
        return load_file(str(folder / "model.safetensors"))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"checkpoint {folder}: model.safetensors is unreadable ({e})") from e


def load_network(folder: Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> Denoiser:
    """Build the network from `folder`, checking every tensor name and shape against the config."""
    state = read_weights(folder)  # checks the folder first
    cfg = read_config(folder)
    model = Denoiser(cfg)
    load_stored(model, state, folder)
    return model.to(device=device, dtype=dtype).eval()
