"""The code actions and inline completion as plain functions: (engine, target, options) -> Outcome.

No LSP session is needed to call them (the server, the benchmark and the tests all do); offsets are Python
string offsets. Every outcome carries a message: an action never ends empty-handed and silent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsp_server import context, spans
from lsp_server.edits import Replacement, diff_span
from lsp_server.languages import line_comment
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex
from model.engine import InfillRequest
from model.sampler import SamplerConfig

DraftSink = Callable[[int, str], None]  # (step, the span's current text with open positions shown)
StopFlag = Callable[[], bool]
GUARD_ROUNDS = 3


@dataclass(frozen=True)
class Target:
    """A span of a document to work on."""

    text: str
    span: Span
    language: str | None = None
    path: Path | None = None

    @property
    def old(self) -> str:
        return self.span.text(self.text)


@dataclass(frozen=True)
class Options:
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    context_tokens: int = 512
    index: WorkspaceIndex | None = None


@dataclass(frozen=True)
class Outcome:
    new_text: str  # the span's new text
    replacements: tuple[Replacement, ...]  # minimal edits, offsets in the original document
    message: str
    flagged: bool = False  # the syntax guard could not make the file parse again
    steps: int = 0


@dataclass(frozen=True)
class Hooks:
    on_draft: DraftSink | None = None
    should_stop: StopFlag | None = None


# --- requests -------------------------------------------------------------------------------------------------
def request_for(target: Target, opts: Options, span_text: str = "", single_line: bool = False) -> InfillRequest:
    """An InfillRequest for the target's span with the trimmed context and snippets around it."""
    ctx = context.build(target.text, target.span, opts.context_tokens, target.language, opts.index, target.path)
    return InfillRequest(ctx.prefix, ctx.suffix, span_text, single_line=single_line)


def _kw(hooks: Hooks, opts: Options, draft_of: Callable[[list], str] | None = None) -> dict:
    """Engine keyword arguments: the stop flag and a draft callback that renders the span."""
    kw: dict = {"should_stop": hooks.should_stop, "context_tokens": opts.context_tokens}
    if hooks.on_draft is not None:
        sink = hooks.on_draft
        render = draft_of or (lambda drafts: drafts[0].text)
        kw["on_draft"] = lambda drafts: sink(drafts[0].step, render(drafts))
    return kw


# --- the syntax guard ---------------------------------------------------------------------------------------
def guard(engine, target: Target, opts: Options, new: str, hooks: Hooks) -> tuple[str, bool, int]:
    """(text, flagged, rounds): when the file parsed before and not after, re-denoise the error region."""
    if spans.parses_cleanly(target.text, target.language) is not True:
        return new, False, 0
    start = target.span.start
    for round_ in range(GUARD_ROUNDS):
        doc = target.text[:start] + new + target.text[target.span.end :]
        end = start + len(new)
        if spans.parses_cleanly(doc, target.language):
            return new, False, round_
        errors = [s for s in spans.error_spans(doc, target.language, Span(start, end)) if s.start < end + 1]
        if not errors:
            break  # the breakage is outside the span: nothing the span can fix
        region = spans.line_span(doc, Span(max(start, errors[0].start), min(end, errors[-1].end)))
        region = Span(max(start, region.start), min(end, region.end))
        fix = replace(target, text=doc, span=region)
        request = request_for(fix, opts, region.text(doc))
        kw = _kw(Hooks(None, hooks.should_stop), opts)
        result = (
            engine.repair(request, opts.sampler, **kw)
            if round_ < GUARD_ROUNDS - 1
            else engine.infill(request, opts.sampler, **kw)
        )
        new = new[: region.start - start] + result.text + new[region.end - start :]
    doc = target.text[:start] + new + target.text[target.span.end :]
    return new, spans.parses_cleanly(doc, target.language) is False, GUARD_ROUNDS


def finish(
    engine, target: Target, opts: Options, new: str, hooks: Hooks, label: str, steps: int, note: str = ""
) -> Outcome:
    """Guard the syntax, diff against the old span, and say what happened."""
    old = target.old
    if old.strip() and not new.strip():
        msg = f"{label}: the model produced no text for the selection, so nothing was changed"
        return Outcome(old, (), _join(msg, note), False, steps)
    new, flagged, rounds = guard(engine, target, opts, new, hooks)
    reps = tuple(diff_span(old, new, target.span.start))
    if not reps:
        return Outcome(old, (), _join(f"{label}: the model kept the selection as it was", note), False, steps)
    msg = f"{label}: {len(reps)} edit{'s' if len(reps) != 1 else ''} in {steps} steps"
    if rounds:
        msg += f"; syntax guard ran {rounds} repair round{'s' if rounds != 1 else ''}"
    if flagged:
        msg += "; WARNING: the file no longer parses, check the result"
    return Outcome(new, reps, _join(msg, note), flagged, steps)


def _join(message: str, note: str) -> str:
    return f"{message}. {note}" if note else message


# --- the actions --------------------------------------------------------------------------------------------
def regenerate(engine, target: Target, opts: Options, hooks: Hooks = Hooks()) -> Outcome:
    """Mask the whole span and denoise it with the file as context."""
    request = request_for(target, opts, target.old, single_line="\n" not in target.old)
    result = engine.infill(request, opts.sampler, **_kw(hooks, opts))
    return finish(engine, target, opts, result.text, hooks, "Regenerate", result.steps)


def repair(engine, target: Target, opts: Options, hooks: Hooks = Hooks()) -> Outcome:
    """Keep the span, reopen only the tokens the model finds unlikely, and denoise those."""
    request = request_for(target, opts, target.old)
    result = engine.repair(request, opts.sampler, **_kw(hooks, opts))
    note = f"{result.remasked} token{'s' if result.remasked != 1 else ''} reopened"
    return finish(engine, target, opts, result.text, hooks, "Repair", result.steps, note)


def fill(engine, target: Target, opts: Options, hooks: Hooks = Hooks()) -> Outcome:
    """Fill every placeholder hole in the span (or, for an empty span, in the definition around it)."""
    target = replace(target, span=fill_span(target))
    holes = spans.placeholders(target.text, target.span, target.language)
    if not holes:
        msg = "Fill placeholders: no placeholder (<mask>, ..., pass  # TODO, todo!()) in the selection"
        return Outcome(target.old, (), msg)
    requests = [request_for(replace(target, span=h), opts, single_line=_shares_line(target.text, h)) for h in holes]

    def compose(texts: list[str]) -> str:
        out, at = [], target.span.start
        for hole, text in zip(holes, texts):
            out += [target.text[at : hole.start], text]
            at = hole.end
        return "".join(out) + target.text[at : target.span.end]

    results = engine.infill_batch(requests, opts.sampler, **_kw(hooks, opts, lambda ds: compose([d.text for d in ds])))
    new = compose([r.text for r in results])
    label = f"Fill placeholders ({len(holes)} hole{'s' if len(holes) != 1 else ''})"
    return finish(engine, target, opts, new, hooks, label, max(r.steps for r in results))


def fill_span(target: Target) -> Span:
    """Where "fill placeholders" works: the selection, or for an empty one the definition (else line) around it."""
    if target.span.start != target.span.end:
        return target.span
    around = spans.enclosing_definition(target.text, target.span.start, target.language)
    return around or spans.line_span(target.text, target.span)


def _shares_line(text: str, hole: Span) -> bool:
    line = spans.line_span(text, hole)
    return bool(text[line.start : hole.start].strip() or text[hole.end : line.end].strip())


def rewrite(engine, target: Target, opts: Options, instruction: str, hooks: Hooks = Hooks()) -> Outcome:
    """Rewrite the span following an instruction: the chat template when the model has one, else a comment."""
    instruction = " ".join(instruction.split())
    if not instruction:
        return Outcome(target.old, (), "Rewrite: the instruction is empty, so nothing was changed")
    if getattr(engine, "supports_chat", False):
        result = engine.rewrite(request_for(target, opts, target.old), instruction, opts.sampler, **_kw(hooks, opts))
        return finish(engine, target, opts, result.text, hooks, "Rewrite", result.steps)
    line_start = target.text.rfind("\n", 0, target.span.start) + 1
    indent = re.match(r"[ \t]*", target.text[line_start : target.span.start]).group()
    comment = f"{indent}{line_comment(target.language)} {instruction}\n"
    hinted = target.text[:line_start] + comment + target.text[line_start:]
    moved = replace(target, text=hinted, span=Span(target.span.start + len(comment), target.span.end + len(comment)))
    request = request_for(moved, opts, target.old, single_line="\n" not in target.old)
    result = engine.infill(request, opts.sampler, **_kw(hooks, opts))
    note = (
        f"The model {engine.name!r} is infill-only: the instruction was given to it as a comment before the "
        "selection and the selection was regenerated"
    )
    return finish(engine, target, opts, result.text, hooks, "Rewrite", result.steps, note)


def translate(engine, target: Target, opts: Options, language: str, hooks: Hooks = Hooks()) -> Outcome:
    """Translate the span to another language (a rewrite with a fixed instruction)."""
    language = language.strip()
    if not language:
        return Outcome(target.old, (), "Translate: no target language was given, so nothing was changed")
    outcome = rewrite(engine, target, opts, f"Translate the following code to {language}.", hooks)
    return replace(outcome, message=outcome.message.replace("Rewrite", f"Translate to {language}", 1))


def completion_request(target: Target, opts: Options, single_line: bool) -> InfillRequest:
    """The request for an inline completion at the target's (empty) span."""
    return request_for(target, opts, single_line=single_line)


def explicit(opts: Options) -> Options:
    """Options for a completion the user asked for (a key, not typing): an empty hole is not an answer."""
    return replace(opts, sampler=replace(opts.sampler, min_tokens=1))


def complete(engine, request: InfillRequest, opts: Options, hooks: Hooks = Hooks()) -> str:
    """Inline completion: the text to insert (one line when the request is single-line)."""
    text = engine.infill(request, opts.sampler, **_kw(hooks, opts)).text
    return trim_completion(text, request.single_line)


def trim_completion(text: str, single_line: bool) -> str:
    """Cut a completion to its first line when it must stay on the line; drop trailing blank space."""
    if single_line:
        text = text.split("\n", 1)[0]
    return text.rstrip()
