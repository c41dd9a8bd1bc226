"""`instant-edit bench --lsp`: inline completion latency through the server over stdio vs a direct engine call.

Both sides get the same requests (cursor positions in the same file, each different so the cache never
answers); the server is a real subprocess driven by pygls' client. Overhead is the relative difference of
the medians.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

import model.engine as engine_module
from lsp_server import actions, spans
from lsp_server.spans import Span

DEFAULT_FILE = Path(engine_module.__file__)  # a real Python file that every install has


def cursor_offsets(text: str, n: int) -> list[int]:
    """`n` line ends of non-blank lines spread evenly over the file (deterministic)."""
    ends = [i for i, ch in enumerate(text) if ch == "\n" and i > 0 and text[i - 1] not in " \n"]
    step = max(1, len(ends) // max(1, n))
    return ends[::step][:n]


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "mean": round(statistics.fmean(ms), 2)}


def direct_runner(text: str, offsets: list[int], model_path, device: str):
    """(engine, callable timing one request by index in ms): the engine call alone, in this process."""
    import model

    engine = model.load(model_path, device=device)
    opts = actions.explicit(actions.Options())  # the served requests are explicitly invoked too
    requests = [
        actions.completion_request(
            actions.Target(text, Span(o, o), "python"), opts, spans.is_single_line(text, o, "python")
        )
        for o in offsets
    ]

    def timed(i: int) -> float:
        start = time.perf_counter()
        actions.complete(engine, requests[i], opts)
        return (time.perf_counter() - start) * 1000

    return engine, timed


async def measure(text: str, offsets: list[int], model_path, device: str, warmup: int):
    """Server and direct milliseconds per request, interleaved so machine noise hits both sides alike."""
    from pygls.lsp.client import LanguageClient

    from lsp_server.positions import Lines, position_at

    client = LanguageClient("instant-edit-bench", "0.1.0")
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--device", device]
    cmd += ["--model", str(model_path)] if model_path else []
    await client.start_io(*cmd)
    try:
        await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
        client.initialized(types.InitializedParams())
        uri = DEFAULT_FILE.as_uri() + "#bench"
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        engine, direct = direct_runner(text, offsets, model_path, device)
        while (await client.protocol.send_request_async("instantEdit/settings", {})).state == "loading":
            await asyncio.sleep(0.05)
        lines = Lines.of(text)

        async def served(offset: int) -> float:
            line, character = position_at(lines, offset, "utf-16")
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
            start = time.perf_counter()
            await client.text_document_inline_completion_async(params)
            return (time.perf_counter() - start) * 1000

        for i in range(min(warmup, len(offsets))):
            await served(offsets[i] - 1)  # a different position: warms up without filling the cache
            direct(i)
        pairs = [(await served(o), direct(i)) for i, o in enumerate(offsets)]
        return [p[0] for p in pairs], [p[1] for p in pairs], str(engine.device)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


def run_lsp_bench(args: Any) -> dict:
    """Latency of inline completion through the server vs the engine directly; overhead in percent."""
    logging.getLogger("pygls").setLevel(logging.ERROR)
    path = Path(getattr(args, "file", None) or DEFAULT_FILE)
    text = path.read_text(encoding="utf-8")
    n = int(getattr(args, "requests", 0) or 30)
    warmup = int(getattr(args, "warmup", 3))
    model_path, device = getattr(args, "model", None), getattr(args, "device", None) or "auto"
    offsets = cursor_offsets(text, n)
    served, direct, used_device = asyncio.run(measure(text, offsets, model_path, device, warmup))
    s, d = summary(served), summary(direct)
    return {
        "file": str(path),
        "requests": len(offsets),
        "device": used_device,
        "server_ms": s,
        "direct_ms": d,
        "overhead_pct": round((s["p50"] - d["p50"]) / d["p50"] * 100, 1) if d["p50"] else None,
        "overhead_p95_pct": round((s["p95"] - d["p95"]) / d["p95"] * 100, 1) if d["p95"] else None,
        "target_pct": 5.0,
    }


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--requests", type=int, default=30)
    p.add_argument("--file", default=None)
    print(json.dumps(run_lsp_bench(p.parse_args()), indent=2))
