"""Each open document's recent edits, from didChange, coalesced into hunks.

A hunk is one stretch the user changed: where it starts in the current text, what was there before and what is
there now. Keystrokes that touch the newest hunk within `MERGE_S` seconds grow it (typing a word is one hunk, not
one per character); a change elsewhere starts a new one. Offsets of older hunks follow later changes; a change
that overlaps an older hunk drops that hunk (its text no longer lines up with the document). A whole-document
replacement (an external change, a reload) clears the history: nothing is built on text that is gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

MERGE_S = 2.0
MAX_HUNKS = 16
MAX_HUNK_CHARS = 2000  # a paste bigger than this is kept out of the history (it is not an edit to repeat)


@dataclass(frozen=True)
class Hunk:
    start: int  # where `new` begins in the current document
    old: str
    new: str
    time: float

    @property
    def end(self) -> int:
        return self.start + len(self.new)


class History:
    """The hunks of one document, oldest first."""

    def __init__(self, max_hunks: int = MAX_HUNKS, merge_s: float = MERGE_S):
        self.hunks: list[Hunk] = []
        self.max_hunks = max_hunks
        self.merge_s = merge_s

    def clear(self) -> None:
        self.hunks = []

    def record(self, before: str, start: int, end: int, inserted: str, now: float | None = None) -> None:
        """`before[start:end]` was replaced by `inserted`."""
        now = time.monotonic() if now is None else now
        delta = len(inserted) - (end - start)
        last = self.hunks[-1] if self.hunks else None
        merge = last is not None and last.start <= end and start <= last.end and now - last.time <= self.merge_s
        untouched = self.hunks[:-1] if merge else self.hunks
        kept = [moved for hunk in untouched if (moved := _after_change(hunk, start, end, delta)) is not None]
        if merge:
            lo, hi = min(start, last.start), max(end, last.end)
            old = before[lo : last.start] + last.old + before[last.end : hi]
            fresh = Hunk(lo, old, before[lo:start] + inserted + before[end:hi], now)
        else:
            fresh = Hunk(start, before[start:end], inserted, now)
        if fresh.old != fresh.new and max(len(fresh.old), len(fresh.new)) <= MAX_HUNK_CHARS:
            kept.append(fresh)
        self.hunks = sorted(kept, key=lambda h: h.time)[-self.max_hunks :]

    def last(self) -> Hunk | None:
        return self.hunks[-1] if self.hunks else None

    def matches(self, text: str) -> bool:
        """Whether every hunk's new text still stands where the history says (else it is stale)."""
        return all(text[h.start : h.end] == h.new for h in self.hunks)


def _after_change(hunk: Hunk, start: int, end: int, delta: int) -> Hunk | None:
    """Where a hunk stands after `[start, end)` was replaced (its length changed by `delta`); None when the
    change overlaps it, so its text no longer lines up."""
    if hunk.end <= start:
        return hunk
    if hunk.start >= end:
        return replace(hunk, start=hunk.start + delta)
    return None
