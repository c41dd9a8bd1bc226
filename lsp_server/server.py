"""The language server: pygls 2 LanguageServer subclass holding documents, settings, index and scheduler.

The handlers (lsp_server/handlers.py) stay thin: they convert positions with `positions`, ask `actions` for an
Outcome through the `scheduler`, and turn it into edits with `edits`; the shared plumbing lives here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from lsp_server import actions, positions
from lsp_server import settings as settings_mod
from lsp_server.actions import Hooks, Options, Outcome, Target
from lsp_server.completions import Completions
from lsp_server.edit_predictions import EditPredictions
from lsp_server.history import History
from lsp_server.languages import detect_language
from lsp_server.scheduler import Cancelled, ModelState, ModelUnavailable, Scheduler
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex

log = logging.getLogger("instant-edit")
VERSION = "0.1.0"
REQUEST_FAILED = types.LSPErrorCodes.RequestFailed.value
CONTENT_MODIFIED = types.LSPErrorCodes.ContentModified.value


class RequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


class StaleVersion(JsonRpcContentModified):
    """The request was made for an older version of the document."""


@dataclass(frozen=True)
class Document:
    uri: str
    text: str
    version: int
    language: str | None
    path: Path | None


class InstantEditProtocol(LanguageServerProtocol):
    """pygls' protocol, choosing UTF-8 whenever the client offers it (pygls takes the client's first choice)."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            chosen = positions.negotiate(general.position_encodings)
            rest = [e for e in general.position_encodings if str(getattr(e, "value", e)) != chosen]
            general.position_encodings = [types.PositionEncodingKind(chosen), *rest]
        return (yield from super().lsp_initialize(params))


class InstantEditServer(LanguageServer):
    """State of one editor session: open documents, settings layers, the index and the engine's scheduler."""

    def __init__(self, model: str | None = None, device: str | None = None):
        super().__init__("instant-edit", VERSION, protocol_cls=InstantEditProtocol, max_workers=2)
        self.docs: dict[str, Document] = {}
        self.encoding = positions.UTF16
        self.cli_layer = {k: v for k, v in {"model": model, "device": device}.items() if v}
        self.client_layer: dict[str, Any] = {}
        self.toml_layer: dict[str, Any] = {}
        self.settings = settings_mod.merge(self.cli_layer, {})
        self.root: Path | None = None
        self.index: WorkspaceIndex | None = None
        self.scheduler: Scheduler | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loaded_key: tuple | None = None
        self.init_problems: list[str] = []  # settings problems found in initialize, reported once initialized
        self.completions = Completions(self)
        self.histories: dict[str, History] = {}  # uri -> recent edits (lsp_server/history.py)
        self.edit_predictions = EditPredictions(self)

    # --- thread-safe output ------------------------------------------------------------------------------
    def later(self, fn: Callable, *args) -> None:
        """Run `fn` on the event loop (pygls' transport is not thread-safe; the engine and watcher threads call this)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def notify(self, method: str, params: Any) -> None:
        self.later(self.protocol.notify, method, params)

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.later(self.window_show_message, types.ShowMessageParams(type=kind, message=message))

    def log_line(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.later(self.window_log_message, types.LogMessageParams(type=kind, message=message))

    # --- settings and the model --------------------------------------------------------------------------
    def apply_settings(self, problems: list[str] = ()) -> None:
        """Merge the layers; reload the model when its path, device or context size changed."""
        for p in problems:
            self.log_line(f"instant-edit settings: {p}", types.MessageType.Warning)
        self.settings = settings_mod.merge({**self.cli_layer, **self.client_layer}, self.toml_layer)
        self.log_line(f"instant-edit settings: {self.settings.as_dict()}")
        self.edit_predictions.ready.clear()  # judged under the old settings (margin, candidates)
        key = self.settings.model_key()
        if self.scheduler is not None and key != self._loaded_key:
            self._loaded_key = key
            self.scheduler.load(self.settings, self.settings.model or "default")

    def reload_toml(self) -> None:
        # A file caught half-written (or mistyped) keeps its previous settings: dropping them would switch the
        # model back to the client's choice until the file parses again.
        self.toml_layer, problems = settings_mod.reload_toml(self.root, self.toml_layer)
        self.apply_settings(problems)

    def on_state(self, state: ModelState) -> None:
        self.notify(
            "instantEdit/status",
            {
                "state": state.state,
                "model": state.model,
                "device": state.device,
                "message": state.message,
                "failure": state.failure or None,
            },
        )
        if state.state == "error" or state.failure:  # one pop-up per failed load; the status line keeps it
            self.tell(f"instant-edit: {state.failure or state.message}", types.MessageType.Error)

    def start_engine(self, problems: list[str] = ()) -> None:
        """Start the worker thread; it loads the model in the background while requests queue behind it."""

        def loader(s: settings_mod.Settings):
            import torch

            import model

            torch.set_num_threads(model.pick_threads(s.threads))  # before the load: the CPU's share, not all of it
            engine = model.load(s.model, device=s.device, context_tokens=s.context_tokens, dtype=s.dtype)
            for note in family_notes(engine):
                self.log_line(f"instant-edit: {note}", types.MessageType.Warning)
            return engine

        self.scheduler = Scheduler(loader, self.on_state)
        self._loaded_key = None
        self.apply_settings(problems)

    def options(self, completion: bool = False) -> Options:
        """The actions' options from the settings; `completion`: for an inline completion (less context)."""
        s = self.settings
        sampler = actions.SamplerConfig(threshold=s.threshold, max_steps=s.max_steps, pad_run_above=s.pad_run_above)
        spelling_margin = s.spelling_margin if s.repair_spelling else None
        gates = actions.Gates(s.regenerate_floor, s.completion_floor, s.repair_margin, spelling_margin)
        context = min(s.completion_context(), s.context_tokens) if completion else s.context_tokens
        return Options(sampler=sampler, context_tokens=context, index=self.index, gates=gates)

    # --- documents and positions -------------------------------------------------------------------------
    def document(self, uri: str) -> Document:
        doc = self.docs.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(f"document {uri} is not open (send textDocument/didOpen first)")
        return doc

    def offsets(self, doc: Document, rng: types.Range) -> Span:
        try:
            a, b = positions.range_offsets(
                positions.Lines.of(doc.text),
                (rng.start.line, rng.start.character),
                (rng.end.line, rng.end.character),
                self.encoding,
            )
        except positions.PositionError as e:
            raise JsonRpcInvalidParams(f"bad range for {doc.uri}: {e}") from None
        return Span(a, b)

    def client_range(self, doc: Document, span: Span) -> types.Range:
        lines = positions.Lines.of(doc.text)
        (l1, c1), (l2, c2) = (positions.position_at(lines, o, self.encoding) for o in (span.start, span.end))
        return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))

    # --- running work on the engine ----------------------------------------------------------------------
    async def run_job(self, fn: Callable[[Any, Callable[[], bool]], Any], key: str | None = None) -> Any:
        """Submit to the worker and await; client cancellation stops the denoising loop within a step."""
        if self.scheduler is None:
            raise RequestFailed("the server is not initialized")
        job = self.scheduler.submit(fn, key)
        try:
            return await asyncio.shield(asyncio.wrap_future(job.future))
        except asyncio.CancelledError:
            self.scheduler.cancel(job, "cancelled by the client")
            raise
        except Cancelled as e:
            raise JsonRpcRequestCancelled(f"request cancelled: {e}") from None
        except ModelUnavailable as e:
            raise RequestFailed(str(e)) from None

    async def progress_token(self, given: types.ProgressToken | None) -> types.ProgressToken | None:
        """The client's work-done token, or a new one when the client lets the server create it."""
        if given is not None:
            return given
        window = self.client_capabilities.window
        if window is None or not window.work_done_progress:
            return None
        token = f"instant-edit/{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as e:  # noqa: BLE001 - a client refusing progress must not fail the action
            log.debug("no progress token: %s", e)
            return None
        return token

    async def run_action(self, name: str, doc: Document, span: Span, extra: tuple, token) -> Outcome:
        """Compute an action's outcome, streaming drafts and work-done progress while it denoises."""
        target = Target(doc.text, span, doc.language, doc.path)
        if name == "fill":  # an empty selection fills the definition around it: drafts must cover that span
            target = Target(doc.text, actions.fill_span(target), doc.language, doc.path)
        rng = self.client_range(doc, target.span)
        token = await self.progress_token(token)
        title = f"instant-edit: {name}"
        if token is not None:
            waiting = "waiting for the model to load" if self.scheduler.state.state == "loading" else "denoising"
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=waiting))

        def draft(step: int, text: str, done: bool = False) -> None:
            self.notify(
                "instantEdit/draft",
                {
                    "uri": doc.uri,
                    "version": doc.version,
                    "range": _range_json(rng),
                    "text": text,
                    "step": step,
                    "done": done,
                },
            )
            if token is not None and not done:
                self.later(self.work_done_progress.report, token, types.WorkDoneProgressReport(message=f"step {step}"))

        fn = ACTIONS[name]
        try:
            outcome = await self.run_job(
                lambda engine, stop: fn(engine, target, self.options(), *extra, hooks=Hooks(draft, stop))
            )
        finally:
            if token is not None:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))
        draft(outcome.steps, outcome.new_text, done=True)
        return outcome

    def edit_for(self, doc: Document, outcome: Outcome) -> types.WorkspaceEdit:
        """The versioned edit, refused when the document moved on while the model worked."""
        current = self.document(doc.uri)
        if current.version != doc.version:
            raise StaleVersion(
                f"{doc.uri} changed while the model worked (version {doc.version}, now "
                f"{current.version}); run the action again"
            )
        from lsp_server.edits import workspace_edit

        return workspace_edit(doc.uri, doc.version, doc.text, list(outcome.replacements), self.encoding)


def family_notes(engine) -> list[str]:
    """What a user should know about a loaded checkpoint family: its licence, and how a block family is decoded."""
    from model.families import FAMILIES

    family = next((f for f in FAMILIES if f.name == engine.family), None)
    notes = [f"{engine.name}: {family.name} weights are {family.license}"] if family and family.license else []
    block = engine.net.cfg.block_size
    if block:
        fim = "; the text after the span goes before it (fill-in-the-middle layout)"
        fim = fim if getattr(engine, "fim_ids", None) else ""
        notes.append(f"{engine.name} is decoded block by block ({block} tokens a block, block-causal attention){fim}")
    suffix_note = getattr(engine, "suffix_note", None)
    if suffix_note:
        notes.append(suffix_note)
    return notes


def _range_json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


ACTIONS: dict[str, Callable[..., Outcome]] = {
    "regenerate": actions.regenerate,
    "repair": actions.repair,
    "fill": actions.fill,
    "rewrite": actions.rewrite,
    "translate": actions.translate,
}


def document_from(uri: str, text: str, version: int, language_id: str | None) -> Document:
    path = Path(to_fs_path(uri)) if uri.startswith("file:") else None
    return Document(uri, text, version, detect_language(language_id, str(path) if path else uri), path)


__all__ = ["Document", "InstantEditServer"]
