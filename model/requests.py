"""What the engine takes and gives: an infill request, its result, and a draft while it denoises.

Kept apart from the engine so that modules the engine uses (the chat template's rewrite) can name them
without importing the engine back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InfillRequest:
    """A hole in a file: the text before it, the text now in it (may be empty), the text after it."""

    prefix: str
    suffix: str
    span: str = ""
    budget: int = 0  # span budget in tokens; 0: guess from the span and its kind
    single_line: bool = False


@dataclass(frozen=True)
class InfillResult:
    text: str
    steps: int
    nfe: int  # model calls for the whole request (shared by the rows of a batch)
    new_tokens: int
    grown: int
    remasked: int
    min_confidence: float
    context_tokens: int


@dataclass(frozen=True)
class Draft:
    """A snapshot of a span while it denoises, for streaming."""

    step: int
    text: str
    open_positions: int
