"""Held-out infill cases: holes cut deterministically from files the training split never contains.

A file is held out by its content hash (corpus.SourceFile.held_out), so any machine can find held-out files
among its own sources without the training run's manifest, and none of them was trained on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from model import examples
from model.corpus import SourceFile, build_corpus, default_roots, load_held_out, stdlib_root
from model.engine import InfillRequest



@dataclass(frozen=True)
class HeldOutCase:
    request: InfillRequest
    truth: str
    language: str
    path: str


def held_out_files(manifest: Path | None = None, language: str | None = "python") -> list[SourceFile]:
    """Held-out files named in a training manifest when given, else the standard library's, found by hash."""
    files = load_held_out(manifest) if manifest and manifest.exists() else []
    if not files:
        others = [r for r in default_roots() if r != stdlib_root()]
        files = build_corpus([stdlib_root()], max_bytes_per_root=10**12, exclude=others).held_out
    files = [f for f in files if language is None or f.language == language]
    return sorted(files, key=lambda f: f.digest)


def make_cases(files: list[SourceFile], kind: str, n: int, seed: int = 0, max_truth_tokens: int = 24, tok=None):
    """`n` holes of `kind`, one file after another, the same for the same files and seed.

    With `tok`, holes whose truth is longer than `max_truth_tokens` are skipped (single-line benchmarks use 24).
    """
    if kind not in examples.SPAN_KINDS:
        raise ValueError(f"unknown span kind {kind!r}; choose from {sorted(examples.SPAN_KINDS)}")
    rng = random.Random(seed)
    cases: list[HeldOutCase] = []
    attempts = 0
    while len(cases) < n and files and attempts < n * 50:
        attempts += 1
        f = files[attempts % len(files)]
        hole = examples.pick_span(f.text, f.language, kind, rng)
        if hole is None:
            continue
        truth = f.text[hole.start : hole.end]
        if kind in ("line", "lines") and not truth.strip():
            continue
        if tok is not None and len(tok.encode(truth)) > max_truth_tokens:
            continue
        single = "\n" not in truth and kind in ("line", "line_tail")
        request = InfillRequest(f.text[: hole.start], f.text[hole.end :], "", single_line=single)
        cases.append(HeldOutCase(request, truth, f.language, f.path))
    return cases
