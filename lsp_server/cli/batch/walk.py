"""Which files a conversion touches: the given paths, minus .gitignore'd ones, filtered by --include/--exclude."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from lsp_server.languages import detect_language

TEMP_MARK = ".ie-tmp-"  # atomic writes leave `.NAME.ie-tmp-PID` behind only when killed mid-write
ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules"}


@dataclass(frozen=True)
class SourceFile:
    """A file to convert: where it is, its path relative to the common root, and its grammar (None: unknown)."""

    path: Path
    rel: PurePosixPath
    language: str | None


@dataclass(frozen=True)
class Filters:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    gitignore: bool = True
    skip: tuple[Path, ...] = ()  # folders never entered (the --out folder when it lies inside the tree)


def common_root(paths: list[Path]) -> Path:
    """The deepest folder holding every given path (a file's own folder when it is the only path)."""
    dirs = [p if p.is_dir() else p.parent for p in paths]
    return Path(os.path.commonpath([str(d) for d in dirs]))


def _spec(lines: list[str]) -> pathspec.GitIgnoreSpec | None:
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _read_gitignore(folder: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        return _spec((folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None


class _Ignores:
    """The .gitignore files seen on the way down; the deepest one with a verdict on a path decides (as git does)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.specs: dict[Path, pathspec.GitIgnoreSpec] = {}

    def enter(self, folder: Path) -> None:
        if self.enabled and folder not in self.specs:
            spec = _read_gitignore(folder)
            if spec is not None:
                self.specs[folder] = spec

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for folder in sorted((f for f in self.specs if f in path.parents), key=lambda f: -len(f.parts)):
            rel = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
            verdict = self.specs[folder].check_file(rel).include
            if verdict is not None:
                return verdict
        return False


def _repo_top(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _wanted(rel: PurePosixPath, filters: Filters, include, exclude) -> bool:
    name = rel.name
    if name.startswith(".") and TEMP_MARK in name:
        return False
    if include is not None and not include.match_file(str(rel)):
        return False
    return exclude is None or not exclude.match_file(str(rel))


def walk(paths: list[Path], filters: Filters = Filters()) -> tuple[Path, list[SourceFile]]:
    """(common root, files in a stable order). Folders yield files with a known language; named files always."""
    paths = [p.resolve() for p in paths]
    root = common_root(paths)
    include, exclude = _spec(list(filters.include)), _spec(list(filters.exclude))
    skip = {s.resolve() for s in filters.skip}
    ignores = _Ignores(filters.gitignore)
    found: dict[Path, SourceFile] = {}
    for given in paths:
        if given.is_file():
            rel = PurePosixPath(given.relative_to(root).as_posix())
            found[given] = SourceFile(given, rel, detect_language(path=str(given)))
            continue
        top = _repo_top(given)
        if top is not None:  # the repository's .gitignore files above the folder apply too
            for above in reversed(given.parents):
                if above == top or top in above.parents:
                    ignores.enter(above)
        for folder, dirs, names in os.walk(given):
            here = Path(folder)
            ignores.enter(here)
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in ALWAYS_SKIPPED_DIRS and (here / d) not in skip and not ignores.ignored(here / d, True)
            )
            for name in sorted(names):
                path = here / name
                language = detect_language(path=name)
                rel = PurePosixPath(path.relative_to(root).as_posix())
                if language and not ignores.ignored(path, False) and _wanted(rel, filters, include, exclude):
                    found[path] = SourceFile(path, rel, language)
    return root, sorted(found.values(), key=lambda f: str(f.rel))
