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
    # float32 everywhere, so exactness checks (cache vs full pass at 1e-4) mean the same on every CPU; the
    # server and CLI tests run the default dtype, which is bf16 on CPUs with hardware bf16.
    return model.load(dtype="float32")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (`pytestmark = pytest.mark.usefixtures("one_thread")`): random-weight checks
    are compared at 1e-4, and one thread is faster on 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sample_source() -> str:
    return SAMPLE
