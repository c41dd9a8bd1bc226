"""Definitions (functions, classes, methods) of the workspace's files by name, kept current with watchfiles.

The index serves context snippets: when a span uses a name defined in another file, its definition's first
lines go into the prompt. Files change on disk outside the editor (git checkout, code generation), so a
watcher thread re-indexes them as they change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lsp_server.languages import LANGUAGE_BY_EXTENSION
from lsp_server.spans import parse

SKIP_DIRS = {".git", ".hg", "node_modules", "__pycache__", ".venv", "venv", "build", "dist", ".mypy_cache", ".tox"}
MAX_FILES = 2000
MAX_FILE_BYTES = 200_000
SNIPPET_LINES = 12
DEFINITION_TYPES = (
    "function_definition",
    "class_definition",
    "function_declaration",
    "class_declaration",
    "method_definition",
    "method_declaration",
    "function_item",
    "struct_item",
    "enum_item",
    "trait_item",
    "type_declaration",
    "interface_declaration",
    "struct_specifier",
)


@dataclass(frozen=True)
class Definition:
    name: str
    path: Path
    snippet: str  # the definition's first lines


def definitions(text: str, language: str, path: Path) -> list[Definition]:
    """Named definitions in a source text, nested ones (methods) included."""
    parsed = parse(text, language)
    if parsed is None:
        return []
    tree, _ = parsed
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(reversed(node.named_children))
        if node.type not in DEFINITION_TYPES:
            continue
        name = node.child_by_field_name("name")
        if name is None or name.text is None:
            continue
        body = (node.text or b"").decode("utf-8", "replace").splitlines()
        found.append(Definition(name.text.decode("utf-8", "replace"), path, "\n".join(body[:SNIPPET_LINES])))
    return found


def source_files(root: Path) -> Iterable[Path]:
    """Files with a known language under root, skipping vendored and generated folders."""
    count = 0
    for path in sorted(root.rglob("*")):
        if count >= MAX_FILES:
            return
        if any(part in SKIP_DIRS for part in path.relative_to(root).parts[:-1]):
            continue
        if path.suffix.lower() in LANGUAGE_BY_EXTENSION and path.is_file():
            count += 1
            yield path


class WorkspaceIndex:
    """Name -> definitions for every indexed file; thread-safe (the watcher writes, requests read)."""

    def __init__(self, root: Path | None):
        self.root = root
        self._by_path: dict[Path, list[Definition]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.watching = threading.Event()
        self.error = ""

    def build(self) -> int:
        """Index every source file under the root; returns how many files were read."""
        if self.root is None or not self.root.is_dir():
            return 0
        n = 0
        for path in source_files(self.root):
            self.update(path)
            n += 1
        return n

    def update(self, path: Path) -> None:
        """Re-read one file (or forget it when it is gone, too big or not a source file)."""
        path = path.resolve()
        language = LANGUAGE_BY_EXTENSION.get(path.suffix.lower())
        found: list[Definition] = []
        try:
            if language and path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
                found = definitions(path.read_text(encoding="utf-8", errors="replace"), language, path)
        except OSError:
            found = []  # deleted or unreadable between the event and the read
        with self._lock:
            if found:
                self._by_path[path] = found
            else:
                self._by_path.pop(path, None)

    def refresh(self, path: Path) -> None:
        """Follow one changed path: a file, a new folder, or a removed folder.

        A folder created with files already in it (git checkout, `mkdir -p && write`) can fill up before the
        watcher has a watch on it, so its files get no events of their own: scan it. A removed folder's files
        likewise vanish without events: forget everything under it.
        """
        if path.is_dir():
            for source in source_files(path):
                self.update(source)
        elif path.suffix.lower() in LANGUAGE_BY_EXTENSION:
            self.update(path)
        elif not path.exists():
            gone = path.resolve()
            with self._lock:
                for indexed in [p for p in self._by_path if p.is_relative_to(gone)]:
                    del self._by_path[indexed]

    def lookup(self, name: str, exclude: Path | None = None) -> list[Definition]:
        with self._lock:
            groups = list(self._by_path.items())
        return [d for path, defs in groups if path != exclude for d in defs if d.name == name]

    def names(self) -> set[str]:
        with self._lock:
            return {d.name for defs in self._by_path.values() for d in defs}

    # --- watching ------------------------------------------------------------------------------------------
    def watch(self, on_other: Callable[[set[Path]], None] | None = None) -> threading.Thread | None:
        """Start a daemon thread that indexes the tree once watching, then re-indexes changed files.

        `watching` is set once the watcher runs and the tree is indexed; other changed paths go to `on_other`.
        """
        if self.root is None or not self.root.is_dir():
            return None
        thread = threading.Thread(target=self._watch_loop, args=(on_other,), name="instant-edit-watch", daemon=True)
        thread.start()
        return thread

    def _watch_loop(self, on_other: Callable[[set[Path]], None] | None) -> None:
        from watchfiles import watch

        # yield_on_timeout: the first (possibly empty) batch proves the watcher is set up; indexing the tree only
        # then means no file written in between is missed.
        batches = watch(
            self.root, stop_event=self._stop, debounce=200, step=50, rust_timeout=300, yield_on_timeout=True
        )
        try:
            for changes in batches:
                if not self.watching.is_set():
                    self.build()
                    self.watching.set()
                    continue
                paths = {Path(p) for _, p in changes}
                for path in paths:
                    self.refresh(path)
                if on_other and paths:
                    on_other(paths)
        except (OSError, RuntimeError) as e:  # the root vanished or inotify ran out of watches: stop quietly
            self.error = str(e)

    def stop(self) -> None:
        self._stop.set()
