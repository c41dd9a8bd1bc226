"""instantEdit/nextEdits through the real server: the edit history from didChange, candidates, versions."""

from __future__ import annotations

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


async def test_bad_next_edit_requests_are_clear_errors(session):
    from pygls.exceptions import JsonRpcInvalidParams

    await session.start()
    uri = session.open("a.py", CODE)
    with pytest.raises(JsonRpcInvalidParams, match="bad position"):
        await _next(session, uri, 99, 0)
    with pytest.raises(JsonRpcInvalidParams, match="expected"):
        await session.client.protocol.send_request_async("instantEdit/nextEdits", {"position": {}})
