"""The gates through the real server: refusals leave the document untouched, say why, and can be overridden."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from lsp_server import spans

pytestmark = pytest.mark.asyncio

NOISE = "def total(values):\n    zzq = qqz + wwx ** 7\n    return zzq\n"
CORRECT = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def _json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


async def _run(session, command: str, uri: str, rng: types.Range, **extra) -> dict:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[{"uri": uri, "range": _json(rng), **extra}])
    )


async def test_regenerate_under_the_floor_is_refused_then_applied_only_when_asked(session):
    await session.start(options={"regenerateFloor": 1.01})  # no answer is that sure: every one is refused
    uri = session.open("a.py", NOISE)
    # The right-hand side, where an empty answer would not parse: the model has to write something to refuse.
    span = (NOISE.index("qqz +"), NOISE.index("\n    return"))
    rng = session.range_of(uri, *span)
    reply = await _run(session, "instantEdit.regenerate", uri, rng)
    assert reply["applied"] is False and reply["refused"] == "confidence", reply
    assert "nothing offered" in reply["message"] and f"confidence {reply['confidence']:.2f}" in reply["message"]
    assert session.applied == []  # refused: no workspace/applyEdit at all
    anyway = reply["applyAnyway"]
    assert anyway["title"].startswith("Apply anyway (low confidence")
    # The refused edit is offered as a second, labelled code action on that selection.
    listed = await session.code_actions(uri, rng)
    titles = [a.title for a in listed]
    assert titles[-1] == anyway["title"] and "Regenerate selection" in titles
    resolved = await session.client.code_action_resolve_async(listed[-1])
    forced = session.apply(uri, resolved.edit.document_changes[0].edits)
    assert forced != NOISE and forced[: span[0]] == NOISE[: span[0]]
    done = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="instantEdit.applyAnyway", arguments=[anyway])
    )
    assert done["applied"] is True and "Applied anyway" in done["message"]
    assert session.apply(uri, session.applied[0].edit.document_changes[0].edits) == forced


async def test_repair_leaves_correct_code_alone(session):
    await session.start()
    uri = session.open("b.py", CORRECT)
    rng = session.range_of(uri, CORRECT.index("return a + b"), CORRECT.index("\n\n\n"))
    reply = await _run(session, "instantEdit.repair", uri, rng)
    assert reply["applied"] is False and reply["refused"] is None and reply["applyAnyway"] is None
    assert reply["message"].startswith("Repair: nothing to repair"), reply
    assert session.applied == []


async def test_every_applied_edit_adds_no_syntax_error_and_refusals_touch_nothing(session):
    """Floors off, so every answer meets the syntax guard, on a clean file and on one that is mid-edit."""
    await session.start(options={"regenerateFloor": 0.0, "completionFloor": 0.0})
    mid_edit = "def broken(:\n    pass\n\n\n" + CORRECT
    for name, text in (("clean.py", CORRECT), ("mid.py", mid_edit)):
        uri = session.open(name, text)
        for line in ("    return a + b", "    return a - b"):
            at = text.index(line) + 4
            rng = session.range_of(uri, at, at + len(line) - 4)
            before = len(session.applied)
            reply = await _run(session, "instantEdit.regenerate", uri, rng)
            assert reply["refused"] in (None, "syntax"), reply
            if reply["applied"]:
                new_text = session.apply(uri, session.applied[-1].edit.document_changes[0].edits)
                assert spans.edit_adds_errors(text, new_text, "python") is False, new_text
            else:
                assert len(session.applied) == before  # refused or unchanged: nothing sent to the editor
                if reply["refused"] == "syntax":
                    assert "not applied" in reply["message"] and reply["applyAnyway"]["title"] == (
                        "Apply anyway (does not parse)"
                    )
    uri = session.open("c.py", "def add(a, b):\n    return \n")
    result = await session.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=11),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    for item in result.items:
        after = "def add(a, b):\n    return " + item.insert_text + "\n"
        assert spans.edit_adds_errors("def add(a, b):\n    return \n", after, "python") is False
    for _ in range(200):  # the notification is sent with the answer; give it a moment to arrive
        if session.confidences:
            break
        await asyncio.sleep(0.05)
    note = session.confidences[-1]
    assert note["explicit"] is True and note["offered"] == bool(result.items)
    assert note["refused"] in (None, "syntax")  # an explicit request has no floor
    assert (note["refused"] == "syntax") == (not result.items and note["confidence"] is not None)
