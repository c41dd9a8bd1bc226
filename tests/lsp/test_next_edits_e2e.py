"""instantEdit/nextEdits through the real server: the edit history from didChange, candidates, versions."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio

CODE = '''def total(values):
    """Add the values."""
    return sum(values)


def report(rows):
    print(total(rows))
    return total(rows) / len(rows)
'''


def _type(session, uri: str, line: int, character: int, chars: str, version: int) -> int:
    for ch in chars:
        at = types.Position(line=line, character=character)
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=ch)],
            )
        )
        character += 1
        version += 1
    return version


async def _next(session, uri: str, line: int, character: int) -> dict:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    result = await session.client.protocol.send_request_async("instantEdit/nextEdits", params)
    return {"version": result.version, "edits": [e for e in result.edits]}


async def test_after_a_rename_the_other_uses_are_judged_and_pinned_to_the_version(session):
    await session.start(options={"nextEditMargin": -100.0})  # keep every candidate: the model's ranking shows
    uri = session.open("a.py", CODE)
    await session.wait_status("ready")
    nothing = await _next(session, uri, 0, 0)
    assert nothing == {"version": 1, "edits": []}  # no edit yet, nothing to follow
    version = _type(session, uri, 0, 9, "_sum", 2)  # def total -> def total_sum
    result = await _next(session, uri, 0, 13)
    assert result["version"] == version - 1
    edits = result["edits"]
    assert len(edits) == 2, edits  # the two calls; not the new definition itself
    lines = CODE.splitlines()
    for e in edits:
        line, start, end = e.range.start.line, e.range.start.character, e.range.end.character
        assert lines[line][start:end] == "total" and e.newText == "total_sum"
        assert 0 < e.confidence < 1
    assert [e.confidence for e in edits] == sorted((e.confidence for e in edits), reverse=True)


async def test_a_whole_document_change_clears_the_history(session):
    await session.start(options={"nextEditMargin": -100.0})
    uri = session.open("a.py", CODE)
    await session.wait_status("ready")
    version = _type(session, uri, 0, 9, "_sum", 2)
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=CODE)],  # reloaded from disk
        )
    )
    assert await _next(session, uri, 0, 9) == {"version": version, "edits": []}


async def test_an_edit_no_reading_explains_lets_the_model_rewrite_the_nearby_lines_when_asked_to(session):
    """Off by default (nothing comes back); with nextEditNearbyLines the lines around the edit are written anew by
    the model and a line it writes differently comes back as an edit on that line (any margin: -100 here)."""
    await session.start(options={"nextEditMargin": -100.0})
    # A third line in `report`: with two, the model comments out the other one too (`#`, following the edit),
    # which leaves the function without a body, and the syntax guard rightly refuses that.
    code = CODE.replace("    print(total(rows))\n", "    print(total(rows))\n    print(len(rows))\n")
    uri = session.open("a.py", code)
    await session.wait_status("ready")
    version = _type(session, uri, 6, 4, "#", 2)  # `#` before `print(total(rows))`: no known change
    assert await _next(session, uri, 6, 5) == {"version": version - 1, "edits": []}
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"instantEdit": {"nextEditMargin": -100.0, "nextEditNearbyLines": 2, "nextEditRewriteMargin": -100.0}}
    ))
    await asyncio.sleep(0.2)
    result = await _next(session, uri, 6, 5)  # the same version: what was judged under the old settings is gone
    lines = code.splitlines()
    assert result["edits"]  # the model writes the nearby lines its own way (the shipped one: wrongly)
    for e in result["edits"]:
        assert e.range.start.line == e.range.end.line and e.range.start.line in (4, 5, 7, 8)  # within 2, not 6
        line = lines[e.range.start.line]
        assert line[: e.range.start.character] + e.newText + line[e.range.end.character :] != line


async def test_bad_next_edit_requests_are_clear_errors(session):
    from pygls.exceptions import JsonRpcInvalidParams

    await session.start()
    uri = session.open("a.py", CODE)
    with pytest.raises(JsonRpcInvalidParams, match="bad position"):
        await _next(session, uri, 99, 0)
    with pytest.raises(JsonRpcInvalidParams, match="expected"):
        await session.client.protocol.send_request_async("instantEdit/nextEdits", {"position": {}})


async def test_a_pause_after_the_edit_prepares_next_edits_that_inline_completion_offers(session):
    """Any LSP 3.18 client sees the next edit: after the pause the server judges the candidates in the background,
    and an inline completion on a line holding one answers it with a replace range over the old text."""
    await session.start(options={"nextEditMargin": -100.0, "nextEditPauseMs": 50})
    uri = session.open("a.py", CODE)
    await session.wait_status("ready")
    version = _type(session, uri, 0, 9, "_sum", 2)
    for _ in range(300):  # the background judgement: a few model calls
        state = await session.client.protocol.send_request_async("instantEdit/settings", {})
        if any(p.uri == uri and p.version == version - 1 for p in state.preparedNextEdits):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no next edits were prepared after the pause")
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=6, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )
    result = await session.client.text_document_inline_completion_async(params)
    (item,) = result.items if hasattr(result, "items") else result
    assert item.insert_text == "total_sum"
    assert (item.range.start.line, item.range.start.character, item.range.end.character) == (6, 10, 15)
    # Typing on makes the prepared suggestions stale: the next answer is an ordinary completion again.
    _type(session, uri, 7, 0, "#", version)
    result = await session.client.text_document_inline_completion_async(params)
    items = result.items if hasattr(result, "items") else result
    assert all(i.insert_text != "total_sum" for i in items or [])


def _replace(session, uri: str, start: tuple[int, int], end: tuple[int, int], text: str, version: int) -> int:
    rng = types.Range(start=types.Position(line=start[0], character=start[1]),
                      end=types.Position(line=end[0], character=end[1]))
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
        )
    )
    return version + 1


async def test_bad_input_gives_no_suggestion_built_on_stale_or_pasted_text(session):
    """A huge paste is not an edit to repeat; an edit over the whole file, or a binary-looking file, leaves
    nothing to follow; none of them crashes the server, which still answers afterwards."""
    await session.start(options={"nextEditMargin": -100.0, "nextEditPauseMs": -1})
    uri = session.open("a.py", CODE)
    await session.wait_status("ready")
    pasted = "x = 1\n" * 600  # 3,600 characters
    version = _replace(session, uri, (8, 0), (8, 0), pasted, 2)
    assert await _next(session, uri, 8, 0) == {"version": version - 1, "edits": []}
    lines = len(CODE.splitlines()) + 600
    version = _replace(session, uri, (0, 0), (lines, 0), "total = 2\n", version)  # select all, type over it
    assert await _next(session, uri, 0, 0) == {"version": version - 1, "edits": []}
    binary = session.open("b.py", "\x00\x01\x02total\x00total\x7f\n" * 20)
    _replace(session, binary, (0, 3), (0, 8), "count", 2)
    result = await _next(session, binary, 0, 3)
    assert result["version"] == 2
    for e in result["edits"]:  # whatever the model makes of it, each edit replaces the old name where it stands
        assert e.newText == "count" and e.range.start.line == e.range.end.line
    assert (await _next(session, uri, 0, 0))["version"] == version - 1  # the server still answers
