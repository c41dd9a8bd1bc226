"""`instant-edit eval --next-edit`: next-edit suggestions on scenarios cut from held-out files.

A scenario applies one consistent change to a held-out file the model never trained on: a rename (an identifier
used at least 3 times) or a changed string literal (used at least twice). The user's part, the first one or two
places in file order, is recorded into an edit history as separate edits; the expected suggestions are the
other places with the new text. Suggestions come from the same functions the server's `instantEdit/nextEdits`
calls (candidates from the newest hunk, judged by the model with the history in context).

Reported per kind and over all: precision (suggested edits that are expected: exact text at the right place),
recall (expected edits suggested), and the time to judge a scenario in process.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

from lsp_server import next_edits
from lsp_server.history import History
from model import edit_examples

KINDS = ("rename", "literal")


@dataclass(frozen=True)
class Scenario:
    kind: str
    text: str  # the file after the user's part of the change
    history: History
    cursor: int  # after the user's last edit
    expected: frozenset[tuple[int, int, str]]  # (start, end, new text) in `text`


def make_scenario(text: str, kind: str, rng: random.Random) -> Scenario | None:
    change = edit_examples.pick_change(text, kind, "python", rng)
    if change is None:
        return None
    old, new, found = change
    spots = found[old]
    done = rng.randint(1, min(2, len(spots) - 1))
    history, now, shift = History(), 0.0, 0
    for a, b in spots[:done]:
        a, b = a + shift, b + shift
        history.record(text, a, b, new, now=now)
        text = text[:a] + new + text[b:]
        shift += len(new) - (b - a)
        now += 10.0  # separate edits, as a user makes them
        cursor = a + len(new)
    expected = set()
    for a, b in spots[done:]:
        expected.add((a + shift, b + shift, new))
    return Scenario(kind, text, history, cursor, frozenset(expected))


def scenarios(files, per_kind: int, seed: int) -> list[Scenario]:
    rng = random.Random(seed)
    out: list[Scenario] = []
    for kind in KINDS:
        made, attempts = 0, 0
        while made < per_kind and attempts < per_kind * 20 and files:
            attempts += 1
            f = files[rng.randrange(len(files))]
            if len(f.text) > 60_000:
                continue
            s = make_scenario(f.text, kind, rng)
            if s is not None and s.expected:
                out.append(s)
                made += 1
    return out


MARGINS = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)


def run(engine, per_kind: int = 50, seed: int = 0, margin: float = 1.0, context_tokens: int = 512) -> dict:
    """Per kind at `margin`, and over all kinds at each of MARGINS (every candidate is scored once)."""
    from model import scoring
    from model.engine import DEFAULT_CHECKPOINT
    from model.heldout import held_out_files

    def score(items: list[tuple[str, str, str, str]]) -> list[float]:
        return scoring.preferences(engine, items, context_tokens)

    judged = []  # (kind, expected, [(start, end, new, gain)], ms)
    # The default run's manifest names the held-out files (the split is by content hash, the same for every run):
    # reading it is much faster than hashing the standard library again.
    for s in scenarios(held_out_files(DEFAULT_CHECKPOINT / "heldout.jsonl"), per_kind, seed):
        found = next_edits.candidates(s.text, s.history.last(), s.cursor)
        start = time.perf_counter()
        every = next_edits.judge(score, s.text, found, s.history.hunks, "python", context_tokens, margin=-1e9)
        ms = (time.perf_counter() - start) * 1000
        judged.append((s.kind, s.expected, [(k.span.start, k.span.end, k.new, k.margin) for k in every], ms))
    kinds = {k: _count([j for j in judged if j[0] == k], margin) for k in KINDS}
    return {
        "margin": margin,
        "cases_per_kind": per_kind,
        "seed": seed,
        "kinds": kinds,
        "all": _count(judged, margin),
        "by_margin": {str(m): _count(judged, m) for m in MARGINS},
        "targets": {"precision": 0.8, "recall": 0.6, "p50_ms": 150},
    }


def _count(judged: list, margin: float) -> dict:
    expected = sum(len(j[1]) for j in judged)
    suggested = correct = 0
    for _, exp, every, _ in judged:
        kept = {(a, b, new) for a, b, new, gain in every if gain >= margin}
        suggested += len(kept)
        correct += len(kept & exp)
    return {
        "scenarios": len(judged),
        "expected": expected,
        "suggested": suggested,
        "correct": correct,
        "precision": round(correct / suggested, 4) if suggested else None,
        "recall": round(correct / expected, 4) if expected else None,
        "judge_ms_p50": round(statistics.median(j[3] for j in judged), 1) if judged else None,
    }
