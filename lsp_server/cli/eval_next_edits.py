"""`instant-edit eval --next-edit`: next-edit suggestions on scenarios cut from held-out files.

A scenario applies one consistent change (model/edit_changes.py: a rename, a changed string literal, a new call
argument, `await` before the calls of a function, an expression wrapped in a call, a removed parameter) to a
held-out file the model never trained on. The user's part, the first one or two places in file order (for a
removed parameter, the definition), is recorded into an edit history as separate edits, the way a user makes
them: a new argument, `await` and a removed parameter as the minimal insertion or deletion (typed), a rename, a
literal and a wrapped expression as the whole text replaced. The expected suggestions are the other places with the
new text, as minimal edits. Suggestions come from the same functions the server's `instantEdit/nextEdits`
calls (candidates from the newest hunk, judged by the model with the history in context).

Reported per kind and over all: precision (suggested edits that are expected: exact text at the right place),
recall (expected edits suggested), and the time to judge a scenario in process; with `--lsp N`, also the time to
the answer through the real server on the first N scenarios (`server_latency`).
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from dataclasses import dataclass

from lsp_server import next_edits
from lsp_server.history import History
from lsp_server.positions import Lines, position_at
from lsp_server.settings import Settings
from lsp_server.spans import Span
from model import edit_changes

KINDS = edit_changes.KINDS
REWRITE_LINES = 3  # the nearby lines written anew in the `rewrite_nearby` measurement (the server's default: off)
TYPED = ("call_args", "keyword", "signature", "siblings")  # kinds whose user part is recorded as the minimal edit


@dataclass(frozen=True)
class Scenario:
    kind: str
    text: str  # the file after the user's part of the change
    history: History
    cursor: int  # after the user's last edit
    expected: frozenset[tuple[int, int, str]]  # (start, end, new text) in `text`
    before: str = ""  # the file before the user's part
    edits: tuple[tuple[int, int, str], ...] = ()  # the user's part, in order: (start, end, new) in the text then


def make_scenario(text: str, kind: str, rng: random.Random) -> Scenario | None:
    change = edit_changes.find_change(text, kind, "python", rng)
    if change is None:
        return None
    lead, rest = list(change.places[: change.lead]), list(change.places[change.lead :])
    if not rest:
        return None
    done = lead + rest[: 0 if lead else rng.randint(1, min(2, len(rest) - 1))]
    todo = [p for p in change.places if p not in done]
    history, now, before, edits = History(), 0.0, text, []
    cursor = 0
    for place in done:
        a, b, new = _moved(place, edits)
        if kind in TYPED:
            span, new = next_edits.minimal(text, Span(a, b), new)
            a, b = span.start, span.end
        history.record(text, a, b, new, now=now)
        text = text[:a] + new + text[b:]
        edits.append((a, b, new))
        now += 10.0  # separate edits, as a user makes them
        cursor = a + len(new)
    expected = set()
    for place in todo:
        a, b, new = _moved(place, edits)
        span, new = next_edits.minimal(text, Span(a, b), new)
        expected.add((span.start, span.end, new))
    return Scenario(kind, text, history, cursor, frozenset(expected), before, tuple(edits))


def _moved(place: edit_changes.Place, edits: list[tuple[int, int, str]]) -> tuple[int, int, str]:
    """Where a place of the original text stands after the user's `edits` (none of which overlaps it)."""
    a, b = place.start, place.end
    for ea, eb, new in edits:
        if eb <= a:
            a, b = a + len(new) - (eb - ea), b + len(new) - (eb - ea)
    return a, b, place.new


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


MARGINS = (-8.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def run(
    engine,
    per_kind: int = 50,
    seed: int = 0,
    margin: float = -1.0,
    context_tokens: int = Settings.next_edit_context_tokens,
    rewrite: bool = True,
) -> dict:
    """Per kind at `margin`, and over all kinds at each of MARGINS (every candidate is scored once); with
    `rewrite`, also the nearby lines written anew (`rewrite_nearby`)."""
    from model import scoring
    from model.engine import DEFAULT_CHECKPOINT
    from model.heldout import held_out_files

    def score(items: list[tuple[str, str, str, str]]) -> list[float]:
        return scoring.preferences(engine, items, context_tokens)

    def write(items: list[tuple[str, str, str]]) -> list[str]:
        return scoring.rewrites(engine, items, context_tokens)

    judged = []  # (kind, expected, [(start, end, new, gain)], ms)
    written = []  # the same, for the nearby lines the model writes anew (expected: the edits on those lines)
    # The default run's manifest names the held-out files (the split is by content hash, the same for every run):
    # reading it is much faster than hashing the standard library again.
    for s in scenarios(held_out_files(DEFAULT_CHECKPOINT / "heldout.jsonl"), per_kind, seed):
        found = next_edits.candidates(s.text, s.history.last(), s.cursor)
        start = time.perf_counter()
        pairs = next_edits.shown_edits(s.text, s.history.hunks, "python")
        every = next_edits.judge(score, s.text, found, pairs, "python", context_tokens, margin=-1e9)
        ms = (time.perf_counter() - start) * 1000
        judged.append((s.kind, s.expected, [(k.span.start, k.span.end, k.new, k.margin) for k in every], ms))
        if rewrite:
            written.append(_rewrite_nearby(s, score, write, context_tokens))
    kinds = {k: _count([j for j in judged if j[0] == k], margin) for k in KINDS}
    return {
        "margin": margin,
        "cases_per_kind": per_kind,
        "seed": seed,
        "kinds": kinds,
        "all": _count(judged, margin),
        "by_margin": {str(m): _count(judged, m) for m in MARGINS},
        # Every candidate suggested, the model's judgement left out: what the candidates alone are worth.
        "candidates_only": _count(judged, -math.inf),
        "targets": {"precision": 0.8, "recall": 0.6, "p50_ms": 150},
        # The server's fallback when an edit matches no known change: the lines around it written anew. Measured
        # on the same scenarios as if no reading applied; its expected edits are those on the nearby lines.
        **({"rewrite_nearby": {
            "lines": REWRITE_LINES,
            "margin": Settings.next_edit_rewrite_margin,
            "all": _count(written, Settings.next_edit_rewrite_margin),
            "by_margin": {str(m): _count(written, m) for m in (-1.0, 0.0, 1.0, 2.0, 4.0)},
            "written_ms_p50": round(statistics.median(w[3] for w in written), 1) if written else None,
        }} if rewrite else {}),
    }


def _rewrite_nearby(s: Scenario, score, write, context_tokens: int) -> tuple:
    """(kind, expected edits on the nearby lines, [(start, end, new, gain)] of the lines written anew, ms)."""
    lines = next_edits.nearby(s.text, s.history.last(), REWRITE_LINES)
    near = frozenset(e for e in s.expected if any(sp.start <= e[0] and e[1] <= sp.end for sp in lines))
    start = time.perf_counter()
    pairs = next_edits.shown_edits(s.text, s.history.hunks, "python")
    made = next_edits.rewritten(write, s.text, lines, pairs, "python", context_tokens)
    every = next_edits.judge(score, s.text, made, pairs, "python", context_tokens, margin=-1e9)
    ms = (time.perf_counter() - start) * 1000
    return (s.kind, near, [(k.span.start, k.span.end, k.new, k.margin) for k in every], ms)


def server_latency(model_path: str | None, per_kind: int, seed: int, cases: int) -> dict:
    """Milliseconds from an `instantEdit/nextEdits` request to its answer through the real server over stdio, on
    `cases` scenarios (the kinds in turn): each file is opened as it was, the user's part typed in as didChange edits (one
    per place), then the request is sent at the cursor. The server's own background preparation is off
    (nextEditPauseMs -1), so every request judges its candidates."""
    from model.engine import DEFAULT_CHECKPOINT
    from model.heldout import held_out_files

    every = scenarios(held_out_files(DEFAULT_CHECKPOINT / "heldout.jsonl"), per_kind, seed)
    by_kind = [[s for s in every if s.kind == k] for k in KINDS]
    chosen = [s for turn in zip(*by_kind) for s in turn][:cases]  # the kinds taken in turn
    times = asyncio.run(_through_server(model_path, chosen))
    return {
        "cases": len(times),
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p95_ms": round(sorted(times)[min(len(times) - 1, int(0.95 * len(times)))], 1) if times else None,
    }


async def _through_server(model_path: str | None, chosen: list[Scenario]) -> list[float]:
    import sys
    from pathlib import Path

    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    from lsp_server.cli.bench_typing import Replay

    client = LanguageClient("instant-edit-eval", "0.1.0")
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--device", "cpu"]
    await client.start_io(*cmd, *(["--model", model_path] if model_path else []))
    times = []
    try:
        options = {"nextEditPauseMs": -1}
        await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                             initialization_options=options))
        client.initialized(types.InitializedParams())
        while (await client.protocol.send_request_async("instantEdit/settings", {})).state == "loading":
            await asyncio.sleep(0.05)
        for i, s in enumerate(chosen):
            replay = Replay(client, Path(f"/tmp/next-edit-{i}.py").as_uri(), s.before)
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=replay.uri, language_id="python", version=1, text=s.before)))
            for a, b, new in s.edits:
                replay.change(a, b, new)
                await asyncio.sleep(0.01)
            assert replay.text == s.text, "the replayed edits did not give the scenario's text"
            line, character = position_at(Lines.of(s.text), s.cursor, "utf-16")
            params = {"textDocument": {"uri": replay.uri}, "position": {"line": line, "character": character}}
            start = time.perf_counter()
            await client.protocol.send_request_async("instantEdit/nextEdits", params)
            times.append((time.perf_counter() - start) * 1000)
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=replay.uri)))
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return times


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
