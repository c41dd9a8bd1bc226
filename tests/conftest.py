"""Shared fixtures: the real embedded model, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SAMPLE = (Path(__file__).parent.parent / "examples" / "sample.py").read_text()


@pytest.fixture(scope="session")
def engine():
    import model

    torch.set_num_threads(2)
    return model.load()


@pytest.fixture(scope="session")
def sample_source() -> str:
    return SAMPLE
