"""What the model sees around a span: prefix and suffix cut at line boundaries to the token budget, weighted
toward the span, plus definitions from other workspace files of the names the span uses.

The cut here is by characters (a cheap upper bound, so a 5 MB file is never tokenized); the engine then fits
the exact token count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lsp_server.languages import line_comment
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex

CHARS_PER_TOKEN = 8  # generous: the engine trims to the exact budget afterwards
PREFIX_SHARE = 0.75  # the span's past usually says more than its future
SNIPPET_SHARE = 0.25  # at most this part of the budget goes to other files' definitions
NEARBY_LINES = 3  # lines around an empty span whose names count as "used"
_NAME = re.compile(r"[A-Za-z_]\w{2,}")


@dataclass(frozen=True)
class Context:
    prefix: str
    suffix: str
    snippets: tuple[str, ...] = ()


def cut_prefix(prefix: str, chars: int) -> str:
    """The last `chars` characters of the prefix, starting at a line start."""
    if len(prefix) <= chars:
        return prefix
    window = prefix[len(prefix) - chars :]
    newline = window.find("\n")
    return window[newline + 1 :] if newline >= 0 else ""


def cut_suffix(suffix: str, chars: int) -> str:
    """The first `chars` characters of the suffix, ending at a line end."""
    if len(suffix) <= chars:
        return suffix
    window = suffix[:chars]
    newline = window.rfind("\n")
    return window[: newline + 1] if newline >= 0 else ""


def split_budget(prefix_len: int, suffix_len: int, chars: int) -> tuple[int, int]:
    """Characters for prefix and suffix: PREFIX_SHARE of the room before, the leftover of either side shared."""
    pre, suf = int(chars * PREFIX_SHARE), chars - int(chars * PREFIX_SHARE)
    if suffix_len < suf:
        pre += suf - suffix_len
    if prefix_len < pre:
        suf += pre - prefix_len
    return pre, suf


def used_names(text: str, span: Span) -> list[str]:
    """Identifiers on the span's lines (and, for an empty span, a few lines around), in order of appearance."""
    start = text.rfind("\n", 0, span.start) + 1
    end = text.find("\n", span.end)
    end = len(text) if end < 0 else end
    if span.start == span.end:
        for _ in range(NEARBY_LINES):
            start = text.rfind("\n", 0, max(0, start - 1)) + 1
            next_end = text.find("\n", end + 1)
            end = len(text) if next_end < 0 else next_end
    seen: dict[str, None] = {}
    for m in _NAME.finditer(text, start, end):
        seen.setdefault(m.group(), None)
    return list(seen)


def snippets(
    names: list[str], index: WorkspaceIndex | None, path: Path | None, language: str | None, chars: int
) -> tuple[str, ...]:
    """Other files' definitions of `names`, as commented blocks, within `chars` characters."""
    if index is None or chars <= 0:
        return ()
    comment = line_comment(language)
    out, used = [], 0
    for name in names:
        for d in index.lookup(name, exclude=path):
            where = d.path.relative_to(index.root) if index.root and d.path.is_relative_to(index.root) else d.path
            block = f"{comment} from {where}:\n{d.snippet}\n\n"
            if used + len(block) > chars:
                return tuple(out)
            out.append(block)
            used += len(block)
    return tuple(out)


def build(
    text: str,
    span: Span,
    budget_tokens: int,
    language: str | None = None,
    index: WorkspaceIndex | None = None,
    path: Path | None = None,
) -> Context:
    """Prefix (with snippets in front) and suffix for a span of `text`."""
    chars = budget_tokens * CHARS_PER_TOKEN
    snips = snippets(used_names(text, span), index, path, language, int(chars * SNIPPET_SHARE))
    room = chars - sum(map(len, snips))
    pre, suf = split_budget(span.start, len(text) - span.end, room)
    prefix = cut_prefix(text[: span.start], pre)
    return Context("".join(snips) + prefix, cut_suffix(text[span.end :], suf), snips)
