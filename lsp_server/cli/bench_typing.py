"""`instant-edit bench --lsp --typing`: inline completion as a user meets it, through the real server over stdio.

Two replays on a held-out file (one the model never trained on):
- typing: a region of the file is removed, then typed back character by character (one incremental didChange
  per key, `--key-ms` apart). At every pause (after a space, a bracket, a dot, a comma, a colon or a line
  break) a typing-triggered completion is requested and awaited. Reported: latency of the requests the model
  answered (misses) and of those answered without it (hits: the cache, a suggestion typed through, a prepared
  one), and the hit rate.
- accept: at line ends, an explicit request; when it offers text, the user reads it for `--read-ms`, accepts it
  (the text is inserted by a didChange) and the next typing-triggered request is sent at once. Reported: the
  time from the accept to the next answer, and the share within 100 ms.

`--busy` keeps one core busy with another process meanwhile (an editor's machine is never idle).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from lsp_server.cli.bench_lsp import summary
from lsp_server.positions import Lines, position_at

PAUSE_AFTER = set(" .(,:\n[")
HEARTBEAT = "instantEdit/confidence"
HITS = ("cache", "typed", "prefetch")


def held_out_text(max_chars: int = 12000) -> tuple[str, str]:
    """(path, text) of the first held-out Python file of a useful size (deterministic)."""
    from model.engine import DEFAULT_CHECKPOINT
    from model.heldout import held_out_files

    manifest = DEFAULT_CHECKPOINT / "heldout.jsonl"
    for f in held_out_files(manifest):
        if 3000 <= len(f.text) <= max_chars and f.text.count("\ndef ") + f.text.count("\n    def ") >= 3:
            return f.path, f.text
    raise RuntimeError("no held-out Python file of 3-12 kB with functions was found")


def typing_region(text: str, chars: int) -> tuple[int, int]:
    """[start, end): whole lines from the file's first function on, about `chars` long."""
    start = text.find("\n    def ")
    start = text.find("\ndef ") if start < 0 else start
    start += 1
    end = start
    while end < len(text) and end - start < chars:
        nxt = text.find("\n", end)
        end = len(text) if nxt < 0 else nxt + 1
    return start, end


class Replay:
    """One server subprocess, one document, and the notifications that say where each answer came from."""

    def __init__(self, client, uri: str, text: str):
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        self.sources: list[str] = []

    def change(self, start: int, end: int, new: str) -> None:
        lines = Lines.of(self.text)
        (a, b), (c, d) = (position_at(lines, o, "utf-16") for o in (start, end))
        rng = types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=new)],
            )
        )

    async def ask(self, offset: int, explicit: bool) -> tuple[float, str, list]:
        """(milliseconds, source, items) of one inline completion request at `offset`."""
        line, character = position_at(Lines.of(self.text), offset, "utf-16")
        kind = types.InlineCompletionTriggerKind.Invoked if explicit else types.InlineCompletionTriggerKind.Automatic
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
        seen = len(self.sources)
        start = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(params)
        ms = (time.perf_counter() - start) * 1000
        while len(self.sources) <= seen:  # the notification is sent just before the answer
            await asyncio.sleep(0.002)
        return ms, self.sources[seen], list(result.items)


async def _typing(replay: Replay, start: int, typed: str, key_ms: float) -> list[tuple[float, str]]:
    out = []
    for i, ch in enumerate(typed):
        replay.change(start + i, start + i, ch)
        if ch in PAUSE_AFTER:
            ms, source, _ = await replay.ask(start + i + 1, explicit=False)
            out.append((ms, source))
        await asyncio.sleep(key_ms / 1000)
    return out


async def _accepts(replay: Replay, cases: int, read_ms: float) -> list[tuple[float, str]]:
    out = []
    ends = [i for i, ch in enumerate(replay.text) if ch == "\n" and i and replay.text[i - 1] not in " \n:"]
    for at in ends[:: max(1, len(ends) // (cases * 3))]:
        if len(out) >= cases:
            break
        _, _, items = await replay.ask(at, explicit=True)
        if not items or items[0].range.start != items[0].range.end:
            continue
        await asyncio.sleep(read_ms / 1000)
        insert = items[0].insert_text
        replay.change(at, at, insert)  # Tab
        ms, source, _ = await replay.ask(at + len(insert), explicit=False)
        out.append((ms, source))
        replay.change(at, at + len(insert), "")  # back to the file as it was, for the next case
    return out


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


async def _session(args: Any, path: str, text: str) -> dict:
    from pygls.lsp.client import LanguageClient

    start, end = typing_region(text, int(getattr(args, "typing_chars", 0) or 400))
    typed = text[start : end - 1]  # the region's lines are typed into one empty line left in their place
    client = LanguageClient("instant-edit-bench", "0.1.0")
    replay = Replay(client, Path(path).resolve().as_uri() + "#typing", text[:start] + "\n" + text[end:])
    client.feature(HEARTBEAT)(lambda params: replay.sources.append(getattr(params, "source", "?")))
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--device", getattr(args, "device", None) or "cpu"]
    cmd += ["--model", str(args.model)] if getattr(args, "model", None) else []
    await client.start_io(*cmd)
    options = {"threads": args.threads} if getattr(args, "threads", 0) else {}
    if getattr(args, "completion_context", 0):
        options["completionContextTokens"] = int(args.completion_context)
    if getattr(args, "debounce_ms", None) is not None:
        options["completionDebounceMs"] = float(args.debounce_ms)
    try:
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            )
        )
        await client.initialize_async(types.InitializeParams(capabilities=caps, initialization_options=options))
        client.initialized(types.InitializedParams())
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=replay.uri, language_id="python", version=1, text=replay.text)
            )
        )
        while (await client.protocol.send_request_async("instantEdit/settings", {})).state == "loading":
            await asyncio.sleep(0.05)
        await replay.ask(start, explicit=True)  # warm-up, off the record
        typing = await _typing(replay, start, typed, float(getattr(args, "key_ms", 60)))
        accepts = await _accepts(replay, int(getattr(args, "accept_cases", 20)), float(getattr(args, "read_ms", 250)))
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return _report(path, len(typed), typing, accepts)


def _report(path: str, typed_chars: int, typing: list, accepts: list) -> dict:
    misses = [ms for ms, src in typing if src == "model"]
    hits = [ms for ms, src in typing if src in HITS]
    counts: dict[str, int] = {}
    for _, src in typing:
        counts[src] = counts.get(src, 0) + 1
    asked = len(misses) + len(hits)
    next_ms = [ms for ms, _ in accepts]
    return {
        "file": path,
        "typed_chars": typed_chars,
        "pause_requests": len(typing),
        "sources": counts,
        "hit_rate": round(len(hits) / asked, 3) if asked else None,
        "miss_ms": summary(misses) if misses else None,
        "hit_ms": summary(hits) if hits else None,
        "accepts": len(accepts),
        "next_after_accept_ms": summary(next_ms) if next_ms else None,
        "next_within_100ms": round(sum(ms <= 100 for ms in next_ms) / len(next_ms), 3) if next_ms else None,
        "next_sources": {s: sum(1 for _, x in accepts if x == s) for s in {x for _, x in accepts}},
        "targets": {"miss_p50_ms": 50, "hit_p50_ms": 5, "next_within_100ms": 0.8},
    }


def run_typing_bench(args: Any) -> dict:
    logging.getLogger("pygls").setLevel(logging.ERROR)
    path, text = held_out_text()
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=_burn, args=(stop,), daemon=True) if getattr(args, "busy", False) else None
    if burner is not None:
        burner.start()
    try:
        report = asyncio.run(_session(args, path, text))
    finally:
        if burner is not None:
            stop.set()
            burner.join(5)
    report["busy_core"] = burner is not None
    report["threads"] = getattr(args, "threads", 0) or "auto"
    debounce = getattr(args, "debounce_ms", None)
    report["debounce_ms"] = "auto" if debounce is None or debounce < 0 else debounce
    return report
