"""Position encodings through the server: utf-16 by default, utf-8 when offered, on a line with emoji."""

from __future__ import annotations

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio

LINE = 's = "\U0001f600\U0001f680" + <mask>\n'  # two astral-plane emoji: 2 UTF-16 units, 4 UTF-8 bytes each


@pytest.mark.parametrize("offered, expected", [(None, "utf-16"), (["utf-16", "utf-8"], "utf-8"), (["utf-8"], "utf-8")])
async def test_negotiation_and_edit_columns_after_emoji(session, offered, expected):
    result = await session.start(encodings=offered)
    assert result.capabilities.position_encoding == expected
    uri = session.open("emoji.py", "x = 1\n")
    # Type the emoji line in with an incremental change: the server must place it right in its own copy.
    session.insert_at_line(uri, 1, LINE, version=2)
    rng = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=999))
    arg = {"uri": uri, "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 999}}}
    reply = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="instantEdit.fill", arguments=[arg])
    )
    assert reply["applied"] is True, reply
    change = session.applied[0].edit.document_changes[0]
    assert change.text_document.version == 2
    hole_column = {"utf-16": 5 + 4 + 4, "utf-8": 5 + 8 + 4}[expected]
    assert change.edits[0].range.start == types.Position(line=1, character=hole_column)
    assert session.apply(uri, change.edits).startswith('x = 1\ns = "\U0001f600\U0001f680" + ')
    assert rng.end.character == 999  # past the line's end clamps to the end, as LSP says
