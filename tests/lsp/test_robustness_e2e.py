"""Bad input never kills the server: each case gets an error or a message, and the next valid request works."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcMethodNotFound

pytestmark = pytest.mark.asyncio
REQUEST_FAILED = -32803


def _inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


async def still_works(session, uri: str) -> None:
    result = await asyncio.wait_for(session.client.text_document_inline_completion_async(_inline(uri, 0, 0)), 60)
    assert isinstance(result, types.InlineCompletionList)


async def test_request_before_the_model_is_loaded_waits_for_it(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    assert not any(s["state"] == "ready" for s in session.statuses)  # still loading
    await still_works(session, uri)
    assert any(s["state"] == "ready" for s in session.statuses)


async def test_malformed_json_rpc_and_unknown_methods(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    stdin = session.client._server.stdin
    for junk in (b"{not json at all", b'{"jsonrpc": "2.0", "id": 77, "method": 5}', b"[1, 2, 3]"):
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(junk) + junk)
    await stdin.drain()
    with pytest.raises(JsonRpcMethodNotFound):
        await session.client.protocol.send_request_async("instantEdit/noSuchMethod", {})
    await still_works(session, uri)


async def test_ranges_outside_the_document_are_errors(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    far = types.Range(start=types.Position(line=500, character=0), end=types.Position(line=501, character=0))
    with pytest.raises(JsonRpcInvalidParams, match="outside"):
        await session.code_actions(uri, far)
    with pytest.raises(JsonRpcInvalidParams, match="outside"):
        await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="instantEdit.repair",
                arguments=[
                    {
                        "uri": uri,
                        "range": {"start": {"line": 500, "character": 0}, "end": {"line": 501, "character": 0}},
                    }
                ],
            )
        )
    with pytest.raises(JsonRpcInvalidParams):
        await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="instantEdit.rewrite", arguments=["not an object"])
        )
    with pytest.raises(JsonRpcInvalidParams, match="not open"):
        await session.client.text_document_inline_completion_async(_inline("file:///nowhere.py", 0, 0))
    await still_works(session, uri)


async def test_five_megabyte_document_and_binary_junk(session):
    await session.start()
    big = "def f(x):\n    return x + 1\n" * (5_000_000 // 27)
    big_uri = session.open("big.py", big)
    lines = big.count("\n")
    result = await asyncio.wait_for(
        session.client.text_document_inline_completion_async(_inline(big_uri, lines // 2, 4)), 60
    )
    assert isinstance(result, types.InlineCompletionList)
    junk = "".join(chr(c) for c in range(0, 0x3000, 7)) + "\x00\x00\ufffd\U0010ffff" + "\n" * 3
    junk_uri = session.open("junk.py", junk)
    reply = await asyncio.wait_for(
        session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="instantEdit.regenerate",
                arguments=[
                    {
                        "uri": junk_uri,
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
                    }
                ],
            )
        ),
        120,
    )
    assert reply["message"]
    await still_works(session, big_uri)


async def test_broken_model_path_reports_then_recovers(session, sample, tmp_path):
    await session.start(options={"model": str(tmp_path / "no-such-checkpoint")})
    status = await session.wait_status("error")
    assert "no-such-checkpoint" in status["message"] or "config.json" in status["message"]
    uri = session.open("a.py", sample)
    with pytest.raises(JsonRpcException) as failed:
        await session.client.text_document_inline_completion_async(_inline(uri, 0, 0))
    assert failed.value.code == REQUEST_FAILED and "cannot load the model" in failed.value.message
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"instantEdit": {"model": None}})
    )
    await session.wait_status("ready")
    await still_works(session, uri)
