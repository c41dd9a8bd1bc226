"""Thin LSP handlers: each parses params, calls the server's helpers and `actions`, and shapes the reply."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.uris import to_fs_path

from lsp_server import actions, positions, spans
from lsp_server import settings as settings_mod
from lsp_server.completions import Answer, Superseded
from lsp_server.history import History
from lsp_server.server import REQUEST_FAILED, Document, InstantEditServer, StaleVersion, document_from
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex

ACTION_TITLES = {"regenerate": "Regenerate selection", "repair": "Repair selection", "fill": "Fill placeholders"}
APPLY_ANYWAY = "applyAnyway"
KIND = types.CodeActionKind.RefactorRewrite
_WORD_BEFORE = re.compile(r"\w*$")


# --- lifecycle ---------------------------------------------------------------------------------------------
def initialize(ls: InstantEditServer, params: types.InitializeParams) -> None:
    """Answer at once: remember encoding, root and client settings; the model loads after `initialized`."""
    ls.loop = asyncio.get_event_loop()
    ls.encoding = str(getattr(ls.workspace.position_encoding, "value", ls.workspace.position_encoding) or "utf-16")
    root = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
    ls.root = (
        Path(to_fs_path(root))
        if root and root.startswith("file:")
        else (Path(params.root_path) if params.root_path else None)
    )
    ls.client_layer, problems = settings_mod.overrides(params.initialization_options)
    ls.toml_layer, toml_problems = settings_mod.read_toml(ls.root)
    ls.init_problems = problems + toml_problems


def initialized(ls: InstantEditServer, params: types.InitializedParams) -> None:
    ls.start_engine(ls.init_problems)
    ls.index = WorkspaceIndex(ls.root)
    ls.index.watch(on_other=lambda paths: _on_disk_change(ls, paths))  # indexes the tree once it watches


def _on_disk_change(ls: InstantEditServer, paths: set[Path]) -> None:
    """The watcher saw files change: reload settings when it was the workspace's instant-edit.toml."""
    if ls.root is None:
        return
    toml = (ls.root / settings_mod.TOML_NAME).resolve()
    if any(p.name == settings_mod.TOML_NAME and p.resolve() == toml for p in paths):
        ls.later(ls.reload_toml)


def shutdown(ls: InstantEditServer, params: None) -> None:
    if ls.scheduler is not None:
        ls.scheduler.close()
    if ls.index is not None:
        ls.index.stop()


# --- documents ---------------------------------------------------------------------------------------------
def did_open(ls: InstantEditServer, params: types.DidOpenTextDocumentParams) -> None:
    d = params.text_document
    ls.docs[d.uri] = document_from(d.uri, d.text, d.version, d.language_id)


def did_change(ls: InstantEditServer, params: types.DidChangeTextDocumentParams) -> None:
    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return
    text = doc.text
    history = ls.histories.setdefault(doc.uri, History())
    for change in params.content_changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            r = change.range
            start, end = (r.start.line, r.start.character), (r.end.line, r.end.character)
            try:
                a, b = positions.range_offsets(positions.Lines.of(text), start, end, ls.encoding)
                before, text = text, positions.apply_change(text, start, end, change.text, ls.encoding)
                history.record(before, a, b, change.text)
            except positions.PositionError as e:
                ls.log_line(f"instant-edit: ignored a change outside {doc.uri}: {e}", types.MessageType.Error)
        else:  # the whole text replaced (a reload, an external change): the history no longer applies
            text = change.text
            history.clear()
    ls.docs[doc.uri] = Document(doc.uri, text, params.text_document.version, doc.language, doc.path)
    ls.completions.edited(doc.uri)
    ls.edit_predictions.edited(ls.docs[doc.uri])


def did_close(ls: InstantEditServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.docs.pop(params.text_document.uri, None)
    ls.completions.closed(params.text_document.uri)
    ls.histories.pop(params.text_document.uri, None)
    ls.edit_predictions.closed(params.text_document.uri)


def did_save(ls: InstantEditServer, params: types.DidSaveTextDocumentParams) -> None:
    doc = ls.docs.get(params.text_document.uri)
    if doc is not None and doc.path is not None and ls.index is not None:
        ls.index.update(doc.path)


async def did_change_configuration(ls: InstantEditServer, params: types.DidChangeConfigurationParams) -> None:
    """New client settings; when the notification carries none (the pull model), ask for section instantEdit."""
    raw = params.settings
    if not raw:
        raw = await _pull_settings(ls)
    if raw is None:
        return
    layer, problems = settings_mod.overrides(raw)
    ls.client_layer = layer
    ls.apply_settings(problems)


async def _pull_settings(ls: InstantEditServer) -> Any:
    workspace = ls.client_capabilities.workspace
    if workspace is None or not workspace.configuration:
        return None
    item = types.ConfigurationItem(section="instantEdit")
    try:
        values = await asyncio.wait_for(
            ls.workspace_configuration_async(types.ConfigurationParams(items=[item])), timeout=10
        )
    except (TimeoutError, JsonRpcException) as e:
        ls.log_line(f"instant-edit: could not read the client's settings: {e}", types.MessageType.Warning)
        return None
    return values[0] if values else None


# --- code actions ------------------------------------------------------------------------------------------
def _resolve_supported(ls: InstantEditServer) -> bool:
    td = ls.client_capabilities.text_document
    support = td.code_action.resolve_support if td and td.code_action else None
    return support is not None and "edit" in support.properties


def _kind_matches(kind: Any) -> bool:
    """Whether a requested kind covers refactor.rewrite (kinds are hierarchical: "refactor" covers it)."""
    k = str(getattr(kind, "value", kind))
    return k in ("", KIND.value) or KIND.value.startswith(k + ".")


def code_action(ls: InstantEditServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """List the actions instantly (no model call): the edit comes from codeAction/resolve or a command."""
    if params.context.only and not any(_kind_matches(k) for k in params.context.only):
        return []
    doc = ls.document(params.text_document.uri)
    ls.offsets(doc, params.range)  # refuse a range outside the document now, not at resolve time
    arg = {"uri": doc.uri, "range": _json_range(params.range), "version": doc.version}
    names = ["regenerate", "repair", "fill"] if params.range.start != params.range.end else ["fill"]
    resolve = _resolve_supported(ls)
    out = []
    for name in names:
        action = types.CodeAction(title=ACTION_TITLES[name], kind=KIND, data={**arg, "action": name})
        if not resolve:
            action.command = types.Command(title=ACTION_TITLES[name], command=f"instantEdit.{name}", arguments=[arg])
        out.append(action)
    held = _withheld_for(ls, doc, ls.offsets(doc, params.range))
    if held is not None:  # the last refused edit here, offered only as an explicit, labelled second action
        key, entry = held
        title = entry["title"]
        anyway = {"uri": doc.uri, "version": doc.version, "id": key}
        action = types.CodeAction(title=title, kind=KIND, data={**anyway, "action": APPLY_ANYWAY})
        if not resolve:
            action.command = types.Command(title=title, command="instantEdit.applyAnyway", arguments=[anyway])
        out.append(action)
    return out


# --- refused edits, kept for an explicit "Apply anyway" ------------------------------------------------------------
def _withheld(ls: InstantEditServer) -> dict:
    """{id: entry} of refused edits that the user may still apply on purpose (the newest per document)."""
    return ls.__dict__.setdefault("instant_edit_withheld", {})


def _withhold(ls: InstantEditServer, doc: Document, span: Span, outcome: actions.Outcome) -> dict | None:
    """Keep a refused outcome's edit; returns the arguments of instantEdit.applyAnyway, or None."""
    if not outcome.withheld:
        return None
    store = _withheld(ls)
    for key in [k for k, e in store.items() if e["uri"] == doc.uri]:
        del store[key]
    key = f"w{len(store)}-{doc.version}-{span.start}-{span.end}-{id(outcome)}"
    if outcome.refused == "syntax":
        title = actions.APPLY_ANYWAY
    else:
        title = f"Apply anyway (low confidence {outcome.confidence:.2f}{', does not parse' if outcome.flagged else ''})"
    store[key] = {"uri": doc.uri, "version": doc.version, "span": span, "outcome": outcome, "title": title}
    return {"uri": doc.uri, "version": doc.version, "id": key, "title": title}


def _withheld_for(ls: InstantEditServer, doc: Document, span: Span) -> tuple[str, dict] | None:
    for key, entry in _withheld(ls).items():
        if entry["uri"] == doc.uri and entry["version"] == doc.version:
            held = entry["span"]
            if held.start <= span.end and span.start <= held.end:
                return key, entry
    return None


def _take_withheld(ls: InstantEditServer, arg: Any) -> tuple[Document, dict]:
    if not isinstance(arg, dict) or not isinstance(arg.get("id"), str) or "uri" not in arg:
        raise JsonRpcInvalidParams("expected an argument {uri, version, id}")
    doc = ls.document(arg["uri"])
    entry = _withheld(ls).get(arg["id"])
    if entry is None or entry["uri"] != doc.uri:
        raise JsonRpcInvalidParams("that refused edit is no longer available; run the action again")
    if entry["version"] != doc.version:
        raise StaleVersion(
            f"{doc.uri} is at version {doc.version}, the refused edit was made for version {entry['version']}; "
            "run the action again"
        )
    return doc, entry


def _held_doc(doc: Document, entry: dict) -> Document:
    return Document(doc.uri, doc.text, entry["version"], doc.language, doc.path)


def _forced(entry: dict) -> actions.Outcome:
    outcome = entry["outcome"]
    why = "does not parse" if outcome.flagged else "low confidence"
    msg = f"Applied anyway ({why}), as asked: check the result"
    return actions.Outcome(outcome.new_text, outcome.withheld, msg, outcome.flagged, outcome.steps)


async def code_action_resolve(ls: InstantEditServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    name = data.get("action")
    if name not in ACTION_TITLES and name != APPLY_ANYWAY:
        raise JsonRpcInvalidParams(f"not an instant-edit code action: {action.title!r}")
    if name == APPLY_ANYWAY:
        doc, entry = _take_withheld(ls, data)
        outcome = _forced(entry)
        action.edit = ls.edit_for(_held_doc(doc, entry), outcome)
        ls.tell(outcome.message, types.MessageType.Warning)
        return action
    doc, span = _target(ls, data)
    outcome = await ls.run_action(name, doc, span, (), None)
    if outcome.replacements:
        action.edit = ls.edit_for(doc, outcome)
    elif outcome.refused:
        held = _withhold(ls, doc, span, outcome)
        hint = f' (the code actions now offer "{held["title"]}")' if held else ""
        ls.tell(outcome.message + hint, types.MessageType.Warning)
        return action
    ls.tell(outcome.message, types.MessageType.Warning if outcome.flagged else types.MessageType.Info)
    return action


def _target(ls: InstantEditServer, arg: Any) -> tuple[Document, Span]:
    """The document and span a command or action names; a stale `version` is refused."""
    if not isinstance(arg, dict) or "uri" not in arg or "range" not in arg:
        raise JsonRpcInvalidParams("expected an argument {uri, range}")
    doc = ls.document(arg["uri"])
    version = arg.get("version")
    if version is not None and version != doc.version:
        raise StaleVersion(
            f"{doc.uri} is at version {doc.version}, the request was made for version {version}; ask again"
        )
    try:
        rng = ls.protocol._converter.structure(arg["range"], types.Range)
    except Exception as e:  # noqa: BLE001 - cattrs raises several error types for a malformed range
        raise JsonRpcInvalidParams(f"malformed range: {e}") from None
    span = ls.offsets(doc, rng)
    if arg.get("snap") is True:  # widen a partial selection to the smallest enclosing statement
        span = spans.snap(doc.text, span, doc.language)
    return doc, span


def _json_range(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


async def run_command(ls: InstantEditServer, name: str, args: tuple, extra_key: str | None = None) -> dict:
    """Compute, then apply through workspace/applyEdit; reply {applied, message, flagged}."""
    if not args:
        raise JsonRpcInvalidParams(f"instantEdit.{name} needs an argument {{uri, range}}")
    doc, span = _target(ls, args[0])
    extra = ()
    if extra_key:
        value = args[0].get(extra_key)
        if not isinstance(value, str):
            raise JsonRpcInvalidParams(f"instantEdit.{name} needs a string {extra_key!r} in its argument")
        extra = (value,)
    outcome = await ls.run_action(name, doc, span, extra, None)
    return await _apply(ls, doc, span, outcome)


async def _apply(ls: InstantEditServer, doc: Document, span: Span, outcome: actions.Outcome) -> dict:
    """Apply an outcome's edit through the client; a refused one is kept for "Apply anyway" and not applied.

    The reply: {applied, message, flagged, refused, confidence, applyAnyway} (applyAnyway: the arguments of
    instantEdit.applyAnyway and the action's title, or null).
    """
    reply_base = {"flagged": outcome.flagged, "refused": outcome.refused or None, "confidence": outcome.confidence}
    if not outcome.replacements:
        anyway = _withhold(ls, doc, span, outcome) if outcome.refused else None
        return {"applied": False, "message": outcome.message, **reply_base, "applyAnyway": anyway}
    edit = ls.edit_for(doc, outcome)
    reply = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=outcome.message))
    message = (
        outcome.message if reply.applied else f"{outcome.message}; the editor refused the edit: {reply.failure_reason}"
    )
    return {"applied": bool(reply.applied), "message": message, **reply_base, "applyAnyway": None}


async def apply_anyway(ls: InstantEditServer, *args) -> dict:
    """instantEdit.applyAnyway {uri, version, id}: apply a refused edit because the user asked for it."""
    if not args:
        raise JsonRpcInvalidParams("instantEdit.applyAnyway needs an argument {uri, version, id}")
    doc, entry = _take_withheld(ls, args[0])
    del _withheld(ls)[args[0]["id"]]
    return await _apply(ls, _held_doc(doc, entry), entry["span"], _forced(entry))


# --- completion ----------------------------------------------------------------------------------------------
async def complete_at(
    ls: InstantEditServer, uri: str, position: types.Position, explicit: bool = False
) -> tuple[str, types.Range]:
    """Inline completion text at a position and the range it replaces ('' when disabled or nothing comes).

    `explicit`: the user asked (a key, not typing), so an empty answer is not one: the first position may be
    neither pad nor a line break. Typing-triggered requests may come back empty, the quiet answer while typing.
    """
    doc = ls.document(uri)
    lines = positions.Lines.of(doc.text)
    try:
        offset = positions.offset_at(lines, position.line, position.character, ls.encoding)
    except positions.PositionError as e:
        raise JsonRpcInvalidParams(f"bad position for {uri}: {e}") from None
    try:
        answer = await ls.completions.complete(doc, offset, explicit)
    except Superseded as e:
        raise JsonRpcRequestCancelled(str(e)) from None
    _tell_confidence(ls, uri, position, explicit, answer)
    return answer.insert, ls.client_range(doc, answer.replace)


def _tell_confidence(ls: InstantEditServer, uri: str, position: types.Position, explicit: bool, answer: Answer) -> None:
    """instantEdit/confidence: how sure the model is of the completion just answered, why it was withheld, and
    where the answer came from (`source`: model, cache, prefetch, typed, skipped, off)."""
    done = answer.completion
    ls.notify(
        "instantEdit/confidence",
        {
            "uri": uri,
            "position": {"line": position.line, "character": position.character},
            "explicit": explicit,
            "confidence": done.confidence,
            "refused": done.refused or None,
            "message": done.message,
            "offered": bool(answer.insert),
            "source": answer.source,
        },
    )


async def inline_completion(ls: InstantEditServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    nearest = _next_edit_on_line(ls, params.text_document.uri, params.position)
    if nearest is not None:  # a prepared next edit on this line comes first, with its replace range
        doc = ls.document(params.text_document.uri)
        item = types.InlineCompletionItem(insert_text=nearest.new, range=ls.client_range(doc, nearest.span))
        return types.InlineCompletionList(items=[item])
    text, at = await complete_at(ls, params.text_document.uri, params.position, explicit)
    if not text:
        return types.InlineCompletionList(items=[])
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=text, range=at)])


def _next_edit_on_line(ls: InstantEditServer, uri: str, position: types.Position):
    doc = ls.docs.get(uri)
    if doc is None:
        return None
    try:
        cursor = positions.offset_at(positions.Lines.of(doc.text), position.line, position.character, ls.encoding)
    except positions.PositionError:
        return None  # complete_at reports the bad position
    return ls.edit_predictions.nearest(doc, position.line, cursor)


async def completion(ls: InstantEditServer, params: types.CompletionParams) -> types.CompletionList:
    """The fallback for clients without inline completion: one item replacing the word before the cursor."""
    explicit = params.context is not None and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
    text, at = await complete_at(ls, params.text_document.uri, params.position, explicit)
    if not text:
        return types.CompletionList(is_incomplete=True, items=[])
    if at.start != at.end:  # a whitespace-only line: the item replaces the line's whitespace
        edit = types.TextEdit(range=at, new_text=text)
        return types.CompletionList(is_incomplete=True, items=[_item(text.strip()[:80], text, edit)])
    doc = ls.document(params.text_document.uri)
    lines = positions.Lines.of(doc.text)
    line_text = lines.line_text(params.position.line)
    index = positions.column_to_index(line_text, params.position.character, ls.encoding)
    word = _WORD_BEFORE.search(line_text[:index]).group()
    start = types.Position(
        line=params.position.line, character=positions.index_to_column(line_text, index - len(word), ls.encoding)
    )
    edit = types.TextEdit(range=types.Range(start=start, end=params.position), new_text=word + text)
    label = (word + text).splitlines()[0][:80] or text.strip()[:80]
    return types.CompletionList(is_incomplete=True, items=[_item(label, word + text, edit)])


def _item(label: str, filter_text: str, edit: types.TextEdit) -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Text,
        text_edit=edit,
        filter_text=filter_text,
        detail="instant-edit",
        insert_text_format=types.InsertTextFormat.PlainText,
    )


# --- next edits ----------------------------------------------------------------------------------------------
async def next_edits_request(ls: InstantEditServer, params: Any) -> dict:
    """instantEdit/nextEdits {textDocument: {uri}, position}: the edits the last change calls for elsewhere,
    {version, edits: [{range, newText, confidence}]}, best first; empty when nothing is confident."""
    uri, pos = _field(_field(params, "textDocument"), "uri"), _field(params, "position")
    if not isinstance(uri, str) or pos is None:
        raise JsonRpcInvalidParams("expected {textDocument: {uri}, position}")
    doc = ls.document(uri)
    try:
        line, character = int(_field(pos, "line")), int(_field(pos, "character"))
        cursor = positions.offset_at(positions.Lines.of(doc.text), line, character, ls.encoding)
    except (TypeError, ValueError, positions.PositionError) as e:
        raise JsonRpcInvalidParams(f"bad position for {uri}: {e}") from None
    kept = await ls.edit_predictions.suggest(doc, cursor)
    edits = [
        {"range": _json_range(ls.client_range(doc, k.span)), "newText": k.new, "confidence": round(k.confidence, 4)}
        for k in kept[: ls.settings.next_edit_max]
    ]
    return {"version": doc.version, "edits": edits}


def _field(obj: Any, name: str) -> Any:
    """A field of custom-request params (pygls gives them as objects, tests may send dicts)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


# --- introspection -------------------------------------------------------------------------------------------
def status_request(ls: InstantEditServer, params: Any) -> dict:
    """instantEdit/settings: the effective settings and model state (for clients' status views and tests)."""
    state = ls.scheduler.state if ls.scheduler else None
    return {
        "settings": ls.settings.as_dict(),
        "positionEncoding": ls.encoding,
        "state": state.state if state else "loading",
        "message": state.message if state else "",
        "indexWatching": bool(ls.index and ls.index.watching.is_set()),
        # The document versions whose next edits are prepared (they answer inline completions on their lines).
        "preparedNextEdits": [{"uri": uri, "version": p.version} for uri, p in ls.edit_predictions.ready.items()],
    }


def index_lookup(ls: InstantEditServer, params: Any) -> list[dict]:
    """instantEdit/indexLookup {name}: where the context index finds definitions of a name."""
    name = params.get("name") if isinstance(params, dict) else getattr(params, "name", None)
    if not isinstance(name, str):
        raise JsonRpcInvalidParams("expected {name: string}")
    found = ls.index.lookup(name) if ls.index else []
    return [{"name": d.name, "path": str(d.path), "snippet": d.snippet} for d in found]


def register(ls: InstantEditServer) -> None:
    """Attach every handler to the server (kept out of import time so tests can build servers freely)."""
    feature = ls.feature
    feature(types.INITIALIZE)(initialize)
    feature(types.INITIALIZED)(initialized)
    feature(types.SHUTDOWN)(shutdown)
    feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    feature(types.TEXT_DOCUMENT_DID_SAVE)(did_save)
    feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[KIND], resolve_provider=True))(
        code_action
    )
    feature(types.CODE_ACTION_RESOLVE)(code_action_resolve)
    feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
    feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))(completion)
    feature("instantEdit/settings")(status_request)
    feature("instantEdit/indexLookup")(index_lookup)
    feature("instantEdit/nextEdits")(next_edits_request)
    for name in ("regenerate", "repair", "fill"):
        ls.command(f"instantEdit.{name}")(_command(name))
    ls.command("instantEdit.rewrite")(_command("rewrite", "instruction"))
    ls.command("instantEdit.translate")(_command("translate", "language"))
    ls.command("instantEdit.applyAnyway")(apply_anyway)


def _command(name: str, extra_key: str | None = None):
    async def handler(ls: InstantEditServer, *args):
        return await run_command(ls, name, args, extra_key)

    handler.__name__ = f"instant_edit_{name}"
    return handler


__all__ = ["REQUEST_FAILED", "register"]
