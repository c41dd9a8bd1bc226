"""Inline completion as a service of the server: answered from what is already known whenever possible, else
from the model after the debounce, and the next suggestion prepared while the user reads this one.

The order of a request: typed through the suggestion on screen (no model) -> skipped where typing should not ask
-> the result cache (filled by answers and by the background preparation) -> the debounce (typing-triggered
misses only) -> the model. The handlers turn the `Answer` into LSP items.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from lsp_server import actions, inline, spans
from lsp_server.actions import Completion, Target
from lsp_server.inline import Debounce, Hole, Shown
from lsp_server.spans import Span

TYPING_LINE_BUDGET = 8  # span positions a typing-triggered one-line request starts with
TYPING_BLOCK_BUDGET = 16  # and a several-line one


class Superseded(Exception):
    """A newer request for the same document came while this one waited for its debounce."""


@dataclass(frozen=True)
class Answer:
    """What to show: `insert` replacing `replace` (document offsets), and where it came from.

    source: "model", "cache" (an identical request answered before), "prefetch" (prepared in the background
    after the previous suggestion), "typed" (the rest of the suggestion on screen, typed into), "skipped" (a
    typing-triggered request where code stands right of the cursor) or "off".
    """

    insert: str
    replace: Span
    completion: Completion
    source: str


class Completions:
    """Per-document state for inline completion: the suggestion shown last, the debounce, the prepared next one.

    `server` is the InstantEditServer: its settings, options, scheduler and `run_job` are used (duck-typed, so
    this module does not import the server).
    """

    def __init__(self, server: Any):
        self.server = server
        self.shown: dict[str, Shown] = {}
        self.debounces: dict[str, Debounce] = {}
        self.turns: dict[str, int] = {}
        self.preparing: dict[str, tuple[tuple, Any]] = {}  # uri -> (cache key, background job) of the next answer

    # --- document events -----------------------------------------------------------------------------------
    def edited(self, uri: str) -> None:
        self._debounce(uri).edited()

    def closed(self, uri: str) -> None:
        for table in (self.shown, self.debounces, self.turns, self.preparing):
            table.pop(uri, None)

    def _debounce(self, uri: str) -> Debounce:
        fixed = self.server.settings.completion_debounce_ms
        d = self.debounces.setdefault(uri, Debounce())
        d.fixed_ms = fixed
        return d

    # --- answering -----------------------------------------------------------------------------------------
    async def complete(self, doc: Any, offset: int, explicit: bool) -> Answer:
        """The suggestion at `offset` of `doc` (a server Document); raises Superseded or the job's errors."""
        self.turns[doc.uri] = turn = self.turns.get(doc.uri, 0) + 1
        empty = Span(offset, offset)
        if not self.server.settings.inline_completion:
            return Answer("", empty, Completion("", message="inline completion is off"), "off")
        shown = self.shown.get(doc.uri)
        if shown is not None and (rest := inline.typed_through(shown, doc.text, offset)) is not None:
            if offset == shown.offset:  # asked again where it was asked: the same answer
                return Answer(rest, shown.replace, Completion(rest, shown.confidence, "", "as before"), "cache")
            done = Completion(rest, shown.confidence, "", "the rest of the suggestion typed into")
            return Answer(rest, empty, done, "typed")
        if not explicit and not inline.typing_should_ask(doc.text, offset):
            done = Completion("", message="not asked while typing: code stands right of the cursor")
            return Answer("", empty, done, "skipped")
        hole = inline.hole_at(doc.text, offset)
        target, opts, key = self._plan(doc, hole, explicit)
        hit = self._cached(key, explicit)
        if hit is not None:
            done, origin = hit
            self.server.scheduler.supersede(f"complete:{doc.uri}")  # the older request is not wanted either
            return self._answered(doc, hole, done, "prefetch" if origin == "prefetch" else "cache")
        if not explicit and (prepared := await self._prepared(doc.uri, key)) is not None:
            return self._answered(doc, hole, prepared, "prefetch")
        if not explicit:
            await self._wait_debounce(doc.uri, turn)
        floor = 0.0 if explicit else opts.gates.completion_floor  # an explicit request answers, showing confidence
        started = time.perf_counter()

        def work(engine, stop):
            hooks = actions.Hooks(None, stop)
            request = _request(target, opts, explicit)
            done = actions.complete_gated(engine, target, request, opts, floor, hooks, fix_syntax=explicit)
            self.server.scheduler.remember(key, (done, "model"))
            return done

        done = await self.server.run_job(work, key=f"complete:{doc.uri}")
        self._debounce(doc.uri).answered((time.perf_counter() - started) * 1000)
        return self._answered(doc, hole, done, "model")

    def _plan(self, doc: Any, hole: Hole, explicit: bool):
        """(target, options, cache key) of a completion at `hole`.

        The key is what decides the answer, cheap to build: the settings, the text and the insertion point (the
        model's request, with its context cut and snippets, is built on the worker only when the cache misses).
        """
        target = Target(hole.text, Span(hole.offset, hole.offset), doc.language, doc.path)
        opts = self.server.options(completion=True)
        opts = actions.explicit(opts) if explicit else actions.typing(opts)
        return target, opts, (self.server.settings, doc.language, doc.path, hole.text, hole.offset, explicit)

    def _cached(self, key: tuple, explicit: bool):
        hit = self.server.scheduler.cached(key)
        if hit is None and explicit:  # a typing-triggered answer with text (say, prepared in the background) will do
            quiet = self.server.scheduler.cached((*key[:-1], False))
            hit = quiet if quiet is not None and quiet[0].text else None
        return hit

    async def _prepared(self, uri: str, key: tuple) -> Completion | None:
        """The answer of the background job preparing exactly this request, awaited when it is still running
        (an accept that came before the preparation finished); None when there is none or it was cancelled."""
        key_job = self.preparing.get(uri)
        if key_job is None or key_job[0] != key:
            return None
        try:
            return await asyncio.shield(asyncio.wrap_future(key_job[1].future))
        except Exception:  # noqa: BLE001 - cancelled by another request, or failed: the model answers afresh
            return None

    async def _wait_debounce(self, uri: str, turn: int) -> None:
        delay = self._debounce(uri).delay_ms()
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if self.turns.get(uri) != turn:
            raise Superseded("a newer completion request for this document came during the debounce")

    def _answered(self, doc: Any, hole: Hole, done: Completion, source: str) -> Answer:
        insert = hole.answer(done.text)
        if not insert:
            return Answer("", hole.replace, done, source)
        shown = Shown(doc.text, hole.replace, insert, done.confidence)
        self.shown[doc.uri] = shown
        self._prepare_next(doc, shown)
        return Answer(insert, hole.replace, done, source)

    # --- the next suggestion, prepared in the background -------------------------------------------------------
    def _prepare_next(self, doc: Any, shown: Shown) -> None:
        """Compute, at low priority, the typing-triggered completion for the document as it will be once `shown`
        is accepted; its answer waits in the cache. Any real request cancels it."""
        text, offset = inline.accepted(shown)
        if not inline.typing_should_ask(text, offset):
            return
        after = type(doc)(doc.uri, text, doc.version, doc.language, doc.path)
        hole = inline.hole_at(text, offset)
        target, opts, key = self._plan(after, hole, explicit=False)
        if self.server.scheduler.cached(key) is not None:
            return
        floor = opts.gates.completion_floor

        def work(engine, stop):
            request = _request(target, opts, explicit=False)
            done = actions.complete_gated(engine, target, request, opts, floor, actions.Hooks(None, stop))
            self.server.scheduler.remember(key, (done, "prefetch"))
            return done

        # Nobody awaits it: a cancellation is its normal end, and a failure reaches the user's next real request.
        job = self.server.scheduler.submit(work, key=f"prefetch:{doc.uri}", background=True)
        self.preparing[doc.uri] = (key, job)


def _request(target: Target, opts: actions.Options, explicit: bool):
    """The model's request for a completion at the target's point: one line or several, by the syntax there.

    Typing-triggered requests start from a small budget (a span that fills it with confident tokens grows):
    every step runs the whole budget, and a typing answer is mostly short or empty. On the embedded model, 8
    positions instead of 32 took the median typing request from 142 ms to 80 ms (README "Performance").
    """
    single = spans.is_single_line(target.text, target.span.start, target.language)
    request = actions.completion_request(target, opts, single)
    if explicit:
        return request
    return replace(request, budget=TYPING_LINE_BUDGET if single else TYPING_BLOCK_BUDGET)
