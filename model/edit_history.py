"""How recent edits are shown to the model: comment lines just above the place it works on.

    # edit: total -> total_sum

Training (model/edit_examples.py) and the server (lsp_server/next_edits.py) both render history here, so the
model reads it at serving time the way it learned it.
"""

from __future__ import annotations

import re

_INDENT = re.compile(r"[ \t]*")


def render_edits(pairs: list[tuple[str, str]], comment: str = "#", limit: int = 4) -> str:
    """(old, new) pairs, newest last, as comment lines; line breaks inside a text are shown as `\\n`."""
    lines = []
    for old, new in pairs[-limit:]:
        old, new = (t.replace("\n", "\\n").strip() for t in (old, new))
        lines.append(f"{comment} edit: {old or '(nothing)'} -> {new or '(nothing)'}\n")
    return "".join(lines)


def note_above(prefix: str, notes: str) -> str:
    """`prefix` (the text before a hole) with `notes` inserted at the start of the hole's line, indented like it."""
    if not notes:
        return prefix
    line_start = prefix.rfind("\n") + 1
    indent = _INDENT.match(prefix[line_start:]).group()
    return prefix[:line_start] + "".join(indent + line for line in notes.splitlines(keepends=True)) + prefix[line_start:]
