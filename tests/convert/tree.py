"""Fixture trees for the conversion tests: the sample tree plus the awkward files a real tree has."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lsp_server.cli.batch import sample_tree

# Small and quick: the tiny model, a short context and a step cap keep each run to seconds on 2 cores.
FAST = ["--max-steps", "3", "--context", "96", "--threads", "1", "--no-progress"]


def build(root: Path, modules: int = 4, js: int = 1, awkward: bool = True) -> dict[str, Path]:
    """The sample tree; with `awkward`, also a binary .py, a read-only .py, an ignored and a vendored file."""
    files = {str(p.relative_to(root)): p for p in sample_tree.build(root, modules=modules, js=js)}
    if awkward:
        (root / "blob.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
        locked = root / "locked.py"
        locked.write_text("def locked(a):\n    return a * 2\n")
        os.chmod(locked, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        (root / ".gitignore").write_text("build/\n*_gen.py\n")
        (root / "build").mkdir()
        (root / "build" / "out.py").write_text("x = 1\n")
        (root / "table_gen.py").write_text("TABLE = [1, 2, 3]\n")
        files.update({"blob.py": root / "blob.py", "locked.py": locked})
    return files


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (journal included) by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
