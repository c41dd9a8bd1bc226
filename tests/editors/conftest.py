"""Fixtures of the real-editor tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from editor_harness import SAMPLE, Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".git").mkdir()  # a root marker, so the editors pick this folder as the workspace
    file = root / "sample.py"
    file.write_text(SAMPLE)
    return Project(root, file)
