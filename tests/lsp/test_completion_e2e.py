"""Inline completion, the completion fallback, latest-wins cancellation and $/cancelRequest through the server."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

pytestmark = pytest.mark.asyncio


def _inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


async def test_inline_completion_and_fallback(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    line = sample.splitlines().index("    return a + b")
    result = await session.client.text_document_inline_completion_async(_inline(uri, line, 11))
    assert isinstance(result, types.InlineCompletionList)
    for item in result.items:
        assert item.insert_text and "\n" not in item.insert_text  # mid-line: a single-line completion
        assert item.range.start == item.range.end == types.Position(line=line, character=11)
    # The fallback right after `a` (the word before the cursor), asked explicitly so that it answers.
    fallback = await session.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=12),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(fallback, types.CompletionList) and fallback.is_incomplete is True
    for item in fallback.items:
        assert item.text_edit.range == types.Range(
            start=types.Position(line=line, character=11), end=types.Position(line=line, character=12)
        )
        assert item.text_edit.new_text.startswith("a")  # the word before the cursor is kept, then extended


async def test_repeated_identical_request_is_answered_from_the_cache(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    first = await session.client.text_document_inline_completion_async(_inline(uri, 2, 0))
    again = await session.client.text_document_inline_completion_async(_inline(uri, 2, 0))
    assert first == again


async def test_burst_of_50_answers_only_the_newest(session):
    # One token per step and no pad runs, so a request takes many steps and the next one arrives mid-run.
    await session.start(options={"threshold": 1.0, "padRunAbove": 0})
    text = "".join(f"value_{i} = compute({i}, \n" for i in range(50))
    uri = session.open("burst.py", text)
    await session.wait_status("ready")
    requests = [session.client.text_document_inline_completion_async(_inline(uri, i, 20)) for i in range(50)]
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert isinstance(results[-1], types.InlineCompletionList)
    cancelled = [r for r in results[:-1] if isinstance(r, JsonRpcRequestCancelled)]
    answered = [r for r in results[:-1] if isinstance(r, types.InlineCompletionList)]
    assert len(cancelled) + len(answered) == 49, [type(r).__name__ for r in results]
    # A request that finished before the next one reached the server is answered, rightly; with a dozen
    # milliseconds per request that can happen to the first one or two of the burst, never to most of them.
    assert len(cancelled) >= 45, [type(r).__name__ for r in results]


async def test_cancel_request_stops_denoising_and_server_goes_on(session, sample):
    # One token per step, no closing of pad runs, and a long span (its budget is the cap, 256 positions): pads
    # close one per step from the far end, so even a span the model ends early takes hundreds of steps.
    await session.start(options={"threshold": 1.0, "padRunAbove": 0})
    text = "".join(sample.replace("def ", f"def v{i}_") for i in range(6))
    uri = session.open("a.py", text)
    rng = session.range_of(uri, 0, len(text))
    args = [
        {
            "uri": uri,
            "range": {
                "start": {"line": rng.start.line, "character": rng.start.character},
                "end": {"line": rng.end.line, "character": rng.end.character},
            },
        }
    ]
    pending = asyncio.ensure_future(
        session.client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command="instantEdit.regenerate", arguments=args),
            msg_id="long-one",
        )
    )

    async def first_draft():
        while not session.drafts:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(first_draft(), 60)
    session.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-one"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(pending, 60)
    await asyncio.sleep(0.3)
    assert not any(d["done"] for d in session.drafts)  # it never ran to the end
    assert session.applied == []
    after = await session.client.text_document_inline_completion_async(_inline(uri, 1, 4))
    assert isinstance(after, types.InlineCompletionList)
