"""Training corpus from source code already on the machine: deduplicated, split into train and held-out by file."""

from __future__ import annotations

import hashlib
import json
import site
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGE_BY_SUFFIX = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".lua": "lua",
    ".h": "c",
}
MAX_FILE_BYTES = 256 * 1024
MAX_LINE_CHARS = 400  # longer lines mean minified or generated code
HELD_OUT_PERCENT = 2
# Never train on benchmark data, wherever a package happens to ship it.
EXCLUDED_PATH_PARTS = ("humaneval", "mbpp", "apps_", "codecontests", "benchmark_data", "lm_eval", "evalplus")


@dataclass(frozen=True)
class SourceFile:
    path: str
    language: str
    text: str
    digest: str

    @property
    def held_out(self) -> bool:
        # Split by content hash, so the same file is held out on every machine.
        return int(self.digest[:8], 16) % 100 < HELD_OUT_PERCENT


@dataclass
class Corpus:
    train: list[SourceFile] = field(default_factory=list)
    held_out: list[SourceFile] = field(default_factory=list)
    roots: dict[str, int] = field(default_factory=dict)  # root -> bytes taken from it

    def summary(self) -> dict:
        def stats(files: list[SourceFile]) -> dict:
            by_lang: dict[str, dict[str, int]] = {}
            for f in files:
                s = by_lang.setdefault(f.language, {"files": 0, "bytes": 0})
                s["files"] += 1
                s["bytes"] += len(f.text.encode())
            return by_lang

        return {"roots": self.roots, "train": stats(self.train), "held_out": stats(self.held_out)}


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def default_roots() -> list[Path]:
    """Python's standard library and site-packages, npm packages, Neovim's Lua runtime, C headers."""
    roots = [stdlib_root()]
    roots += [Path(p) for p in site.getsitepackages()]
    roots += [Path(p) for p in ("/usr/lib/node_modules", "/usr/share/nodejs", "/usr/local/lib/node_modules")]
    roots += [Path(p) for p in ("/usr/share/nvim/runtime", "/usr/local/share/nvim/runtime", "/usr/include")]
    return [r for r in roots if r.is_dir()]


def iter_source_paths(root: Path, nested_roots: list[Path]) -> Iterator[Path]:
    """Source files under `root` but not under a nested root, in an order shuffled by path hash.

    The shuffle makes a size cap take a sample of many packages rather than the alphabetically first ones.
    """
    paths = [p for p in root.rglob("*") if p.suffix in LANGUAGE_BY_SUFFIX]
    paths.sort(key=lambda p: hashlib.md5(str(p).encode()).hexdigest())
    for path in paths:
        if not path.is_file() or any(path.is_relative_to(n) for n in nested_roots):
            continue
        lowered = str(path).lower()
        if any(part in lowered for part in EXCLUDED_PATH_PARTS):
            continue
        yield path


def read_source(path: Path) -> str | None:
    """The file's text if it looks like hand-written code, else None."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if len(text) < 64 or max(map(len, text.splitlines() or [""])) > MAX_LINE_CHARS:
        return None
    return text


def build_corpus(roots: list[Path], max_bytes_per_root: int, exclude: list[Path] = ()) -> Corpus:
    """Walk `roots`, keep each distinct file once, take at most `max_bytes_per_root` of text from each root.

    A root nested in another (site-packages inside the standard library) is walked on its own, never twice;
    `exclude` names more folders to skip.
    """
    corpus = Corpus()
    seen: set[str] = set()
    for root in roots:
        taken = 0
        nested = [r for r in roots if r != root and r.is_relative_to(root)] + list(exclude)
        for path in iter_source_paths(root, nested):
            if taken >= max_bytes_per_root:
                break
            text = read_source(path)
            if text is None:
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            f = SourceFile(str(path), LANGUAGE_BY_SUFFIX[path.suffix], text, digest)
            (corpus.held_out if f.held_out else corpus.train).append(f)
            taken += len(text.encode())
        corpus.roots[str(root)] = taken
    return corpus


def write_manifest(corpus: Corpus, path: Path) -> None:
    """Paths, sizes and digests of every file, so a run can be audited and the split reproduced."""
    rows = [
        {"path": f.path, "language": f.language, "bytes": len(f.text.encode()), "sha256": f.digest, "split": split}
        for split, files in (("train", corpus.train), ("held_out", corpus.held_out))
        for f in files
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def load_held_out(manifest: Path) -> list[SourceFile]:
    """Held-out files named in a manifest, read again from disk; files that changed since are skipped."""
    files = []
    for line in manifest.read_text().splitlines():
        row = json.loads(line)
        if row["split"] != "held_out":
            continue
        text = read_source(Path(row["path"]))
        if text is not None and hashlib.sha256(text.encode()).hexdigest() == row["sha256"]:
            files.append(SourceFile(row["path"], row["language"], text, row["sha256"]))
    return files
