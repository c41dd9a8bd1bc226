"""One server's next-edit suggestions: judged when asked (instantEdit/nextEdits), or prepared in the background
once the user pauses after an edit; pinned to the document version they were made for.

The background preparation is what lets any LSP 3.18 client see a next edit without knowing the custom request:
when an inline completion is asked on a line that holds a prepared suggestion, that suggestion is the answer,
with a replace range (`nearest`). A pause of `next_edit_pause_ms` (default 300) comes first, since users of
Copilot's next edits complain about suggestions that arrive while they are still typing; any real request
cancels the preparation (it is a background job of the scheduler).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from lsp_server import next_edits, positions
from lsp_server.next_edits import Suggestion
from model import scoring


@dataclass(frozen=True)
class Prepared:
    version: int
    suggestions: list[Suggestion]  # best first


class EditPredictions:
    """`server` is the InstantEditServer: its docs, histories, settings, loop, scheduler and `run_job` are used
    (duck-typed, so this module does not import the server); a `doc` is its Document."""

    def __init__(self, server: Any):
        self.server = server
        self.ready: dict[str, Prepared] = {}  # uri -> the suggestions judged for one version of it
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.asked: dict[str, int] = {}  # uri -> the version a client request is judging (no need to prepare it)

    # --- asked for -----------------------------------------------------------------------------------------
    async def suggest(self, doc: Any, cursor: int) -> list[Suggestion]:
        """The suggestions for this version of `doc`, best first: the prepared ones, else judged now."""
        ready = self.ready.get(doc.uri)
        if ready is not None and ready.version == doc.version:
            return ready.suggestions
        job = self._job(doc, cursor)
        if job is None:
            return []
        self.asked[doc.uri] = doc.version
        kept = await self.server.run_job(job, key=f"nextEdits:{doc.uri}")
        self.ready[doc.uri] = Prepared(doc.version, kept)
        return kept

    def nearest(self, doc: Any, line: int, cursor: int) -> Suggestion | None:
        """The prepared suggestion on `line` (a 3.18 inline completion replaces within one line) nearest the
        cursor; None when there is none for this version of the document."""
        ready = self.ready.get(doc.uri)
        if ready is None or ready.version != doc.version:
            return None
        lines = positions.Lines.of(doc.text)

        def line_of(offset: int) -> int:
            return positions.position_at(lines, offset, positions.UTF32)[0]

        on_line = [s for s in ready.suggestions if line_of(s.span.start) == line == line_of(s.span.end)]
        return min(on_line, key=lambda s: abs(s.span.start - cursor), default=None)

    # --- prepared after a pause ----------------------------------------------------------------------------
    def edited(self, doc: Any) -> None:
        """After a change: the old version's suggestions are gone; prepare the new ones once the user pauses."""
        self._forget(doc.uri)
        pause = self.server.settings.next_edit_pause_ms
        loop = self.server.loop
        if pause < 0 or loop is None or loop.is_closed():
            return
        self.timers[doc.uri] = loop.call_later(pause / 1000, self._prepare, doc.uri, doc.version)

    def closed(self, uri: str) -> None:
        self.asked.pop(uri, None)
        self._forget(uri)

    def _forget(self, uri: str) -> None:
        """Drop the prepared suggestions and the pending pause of `uri`."""
        self.ready.pop(uri, None)
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def _prepare(self, uri: str, version: int) -> None:
        self.timers.pop(uri, None)
        doc = self.server.docs.get(uri)
        history = self.server.histories.get(uri)
        if doc is None or doc.version != version or history is None or self.server.scheduler is None:
            return
        if self.asked.get(uri) == version:  # the client asked for this version itself
            return
        last = history.last()  # `_job` finds nothing when the history no longer matches the text
        job = self._job(doc, last.end if last is not None else 0)
        if job is None:
            return

        def keep(future: Any) -> None:
            if not future.cancelled() and future.exception() is None:
                self.ready[uri] = Prepared(version, future.result())

        # Nobody awaits it: a cancellation (the user typed on, or asked) is its normal end. Its own key: under the
        # client's request's key it would supersede that request.
        self.server.scheduler.submit(job, key=f"prepareNextEdits:{uri}", background=True).future.add_done_callback(
            keep
        )

    # --- the model's work ----------------------------------------------------------------------------------
    def _job(self, doc: Any, cursor: int):
        """The engine job suggesting the edits the document's last edit calls for, or None when there is no usable
        history: nothing is ever built on stale text (an external change, an undo the history missed)."""
        history = self.server.histories.get(doc.uri)
        if history is None or not history.hunks or not history.matches(doc.text):
            return None
        s = self.server.settings
        s = replace(s, next_edit_context_tokens=min(s.next_edit_context_tokens, s.context_tokens))
        hunks, text, language = list(history.hunks), doc.text, doc.language

        def work(engine, stop) -> list[Suggestion]:
            def score(items: list[tuple[str, str, str, str]]) -> list[float]:
                return scoring.preferences(engine, items, s.next_edit_context_tokens)

            def write(items: list[tuple[str, str, str]]) -> list[str]:
                return scoring.rewrites(engine, items, s.next_edit_context_tokens, stop)

            return next_edits.suggest(score, write, text, hunks, cursor, language, s, stop)

        return work

