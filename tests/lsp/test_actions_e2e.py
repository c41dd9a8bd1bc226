"""Code actions end to end: listing, resolve, commands with workspace/applyEdit, drafts, progress, stale versions."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server import spans

CONTENT_MODIFIED = -32801

pytestmark = pytest.mark.asyncio

TITLES = {"Regenerate selection", "Repair selection", "Fill placeholders"}


async def test_initialize_advertises_the_contract(session):
    result = await session.start()
    caps = result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert caps.code_action_provider.resolve_provider is True
    assert set(caps.execute_command_provider.commands) == {
        "instantEdit.regenerate",
        "instantEdit.repair",
        "instantEdit.fill",
        "instantEdit.rewrite",
        "instantEdit.translate",
        "instantEdit.applyAnyway",  # a refused edit, applied only when the user asks explicitly
    }
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.position_encoding == types.PositionEncodingKind.Utf16
    status = await session.wait_status("ready")
    assert status["device"] == "cpu" and status["model"]


async def test_actions_listed_then_resolved_with_a_versioned_edit(session, sample):
    await session.start(resolve=True)
    uri = session.open("a.py", sample)
    hole = sample.index("<mask>")
    rng = session.range_of(uri, sample.index("def total"), len(sample) - 1)
    listed = await session.code_actions(uri, rng)
    assert {a.title for a in listed} == TITLES
    assert all(a.kind == types.CodeActionKind.RefactorRewrite and a.edit is None and a.command is None for a in listed)
    fill = next(a for a in listed if a.title == "Fill placeholders")
    resolved = await session.client.code_action_resolve_async(fill)
    change = resolved.edit.document_changes[0]
    assert change.text_document.uri == uri and change.text_document.version == 1
    new_text = session.apply(uri, change.edits)
    assert "<mask>" not in new_text
    assert new_text[:hole] == sample[:hole]  # minimal: nothing before the hole was touched
    assert session.drafts and session.drafts[-1]["done"] is True
    assert session.drafts[-1]["uri"] == uri and session.drafts[-1]["version"] == 1


async def test_without_resolve_support_actions_carry_commands(session, sample):
    await session.start(resolve=False)
    uri = session.open("a.py", sample)
    rng = session.range_of(uri, 0, sample.index("\n\n"))
    listed = await session.code_actions(uri, rng)
    assert {a.title for a in listed} == TITLES
    for action in listed:
        assert action.command.command.startswith("instantEdit.")
        assert action.command.arguments[0]["uri"] == uri


async def test_fill_command_applies_edit_with_progress_and_drafts(session, sample):
    await session.start()
    uri = session.open("a.py", sample)
    rng = session.range_of(uri, sample.index("def total"), len(sample) - 1)
    reply = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="instantEdit.fill", arguments=[{"uri": uri, "range": _json(rng)}])
    )
    assert reply["applied"] is True and reply["flagged"] in (True, False) and "Fill placeholders" in reply["message"]
    assert len(session.applied) == 1
    change = session.applied[0].edit.document_changes[0]
    assert change.text_document.version == 1
    assert "<mask>" not in session.apply(uri, change.edits)
    steps = [d["step"] for d in session.drafts if not d["done"]]
    assert steps == sorted(steps) and steps[0] >= 1
    assert any(r.kind == "begin" for reports in session.client.progress_reports.values() for r in reports)
    assert any(r.kind == "end" for reports in session.client.progress_reports.values() for r in reports)


@pytest.mark.parametrize(
    "command, extra",
    [
        ("instantEdit.regenerate", {}),
        ("instantEdit.repair", {}),
        ("instantEdit.rewrite", {"instruction": "use the built-in sum"}),
        ("instantEdit.translate", {"language": "rust"}),
    ],
)
async def test_each_command_answers_with_a_message_and_a_consistent_edit(session, sample, command, extra):
    await session.start()
    uri = session.open("a.py", sample)
    start = sample.index("    out = []")
    rng = session.range_of(uri, start, sample.index("    return out"))
    reply = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[{"uri": uri, "range": _json(rng), **extra}])
    )
    assert set(reply) == {"applied", "message", "flagged", "refused", "confidence", "applyAnyway"}
    assert reply["message"].strip() and (reply["refused"] is None) == (reply["applyAnyway"] is None)
    if command in ("instantEdit.rewrite", "instantEdit.translate"):
        assert "infill-only" in reply["message"]  # the embedded model has no chat template: say so
    assert len(session.applied) == (1 if reply["applied"] else 0)
    if reply["applied"]:
        edits = session.applied[0].edit.document_changes[0].edits
        new_text = session.apply(uri, edits)
        assert new_text[:start] == sample[:start]
        assert spans.edit_adds_errors(sample, new_text, "python") is False, new_text
    assert session.drafts[-1]["done"] is True


async def test_stale_version_is_refused(session, sample):
    await session.start(resolve=True)
    uri = session.open("a.py", sample)
    rng = session.range_of(uri, sample.index("def total"), len(sample) - 1)
    listed = await session.code_actions(uri, rng)
    session.insert_at_line(uri, 0, "# edited\n", version=2)
    with pytest.raises(JsonRpcException, match="version 2") as resolve_error:
        await session.client.code_action_resolve_async(listed[0])
    with pytest.raises(JsonRpcException, match="version 2") as command_error:
        await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="instantEdit.fill", arguments=[{"uri": uri, "range": _json(rng), "version": 1}]
            )
        )
    assert resolve_error.value.code == command_error.value.code == CONTENT_MODIFIED
    assert session.applied == []


def _json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


async def test_repair_corrects_misspelt_words_through_the_server(session):
    """The server's Repair on a selection with a misspelt keyword and name: the spelling fixes come back applied,
    with what was corrected in the message."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "examples" / "typos.py").read_text()
    await session.start()
    uri = session.open("typos.py", text)
    start = text.index("            vaules")
    rng = session.range_of(uri, start, text.index("\n\n\ndef total"))
    reply = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="instantEdit.repair", arguments=[{"uri": uri, "range": _json(rng)}])
    )
    assert reply["applied"] is True and "vaules -> values" in reply["message"], reply
    new_text = session.apply(uri, session.applied[0].edit.document_changes[0].edits)
    assert new_text == text.replace("vaules[", "values[").replace("retrun values", "return values")
