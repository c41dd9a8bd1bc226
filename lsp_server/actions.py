"""The code actions and inline completion as plain functions: (engine, target, options) -> Outcome.

No LSP session is needed to call them (the server, the benchmark and the tests all do); offsets are Python
string offsets. Every outcome carries a message: an action never ends empty-handed and silent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsp_server import context, spans, spelling
from lsp_server.edits import Replacement, diff_span
from lsp_server.gate_defaults import COMPLETION_FLOOR, REGENERATE_FLOOR, REPAIR_MARGIN, SPELLING_MARGIN
from lsp_server.languages import detect_language, line_comment
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex
from model.engine import InfillRequest
from model.sampler import SamplerConfig

DraftSink = Callable[[int, str], None]  # (step, the span's current text with open positions shown)
StopFlag = Callable[[], bool]
GUARD_ROUNDS = 3
GUARD_MARGIN = 0.0  # inside a region that does not parse, reopen every token that is not the model's first choice
APPLY_ANYWAY = "Apply anyway (does not parse)"
# A typing-triggered hole is answered empty after one model call when ending there is at least this likely:
# more likely than everything else together.
TYPING_EMPTY_ABOVE = 0.5
# A typing-triggered answer closes its tail of pads at a lower bound than the actions' `pad_run_above` (0.5): on
# 200 held-out line ends the model calls per request fell from 4.4 to 3.2 with the same exact answers (7 of 200;
# CHANGELOG), and a miss is what the user waits for while typing.
TYPING_PAD_RUN_ABOVE = 0.3


@dataclass(frozen=True)
class Gates:
    """What the model must clear before its text is offered.

    regenerate_floor / completion_floor: the least `confidence` (the lowest probability any kept token had when
    it was committed) for Regenerate and for typing-triggered completions; under it nothing is offered. 0 turns a
    floor off. Explicitly invoked completions answer whatever their confidence and show it.
    repair_margin: Repair reopens a token only when its log-probability, scored with itself masked, lies at least
    this many nats below the best alternative's.
    spelling_margin: Repair first corrects misspelt words (a unique word one keystroke from a known one) when the
    model prefers the correction by this many nats; None turns spelling fixes off.
    """

    regenerate_floor: float = REGENERATE_FLOOR
    completion_floor: float = COMPLETION_FLOOR
    repair_margin: float = REPAIR_MARGIN
    spelling_margin: float | None = SPELLING_MARGIN
    guard_rounds: int = GUARD_ROUNDS  # re-denoising rounds for text that adds parse errors (0: refuse at once)


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
    gates: Gates = field(default_factory=Gates)


@dataclass(frozen=True)
class Outcome:
    new_text: str  # the span's new text (the old text when the edit is refused)
    replacements: tuple[Replacement, ...]  # minimal edits, offsets in the original document; () when refused
    message: str
    flagged: bool = False  # the model's text would add a syntax error (it is then refused, not applied)
    steps: int = 0
    refused: str = ""  # why nothing is applied although the model answered: "syntax" or "confidence"
    withheld: tuple[Replacement, ...] = ()  # the refused edit, for an explicit "Apply anyway"
    confidence: float | None = None  # the lowest commit probability of the model's kept tokens


@dataclass(frozen=True)
class Completion:
    """An inline completion: the text to insert ('' for none), its confidence, and why it was withheld."""

    text: str
    confidence: float | None = None
    refused: str = ""  # "syntax", "confidence" or "" (answered, or the model proposed nothing)
    message: str = ""


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
def added_errors(target: Target, new: str) -> list[Span] | None:
    """Parse-error regions that putting `new` in the target's span adds to the file (None: no grammar)."""
    start, old_end = target.span.start, target.span.end
    doc = target.text[:start] + new + target.text[old_end:]
    return spans.added_errors(target.text, doc, start, old_end, start + len(new), target.language)


def guard(engine, target: Target, opts: Options, new: str, hooks: Hooks) -> tuple[str, bool, int]:
    """(text, flagged, rounds): while `new` adds parse errors to the file, re-denoise the broken lines.

    Errors are compared region by region with the file before the edit, so a file that is mid-edit elsewhere is
    guarded too. `flagged`: the last round still adds errors, so the text must not be applied.
    """
    start = target.span.start
    rounds = opts.gates.guard_rounds
    for round_ in range(rounds):
        added = added_errors(target, new)
        if not added:  # None (no grammar) or []: nothing to fix
            return new, False, round_
        end = start + len(new)
        inside = [e for e in added if e.start <= end and e.end >= start]
        doc = target.text[:start] + new + target.text[target.span.end :]
        if inside:
            lo, hi = max(start, inside[0].start), min(end, max(e.end for e in inside))
        else:  # the breakage shows after the span (an unclosed bracket or string): it comes from the span
            lo, hi = start, end
        region = spans.line_span(doc, Span(lo, max(lo, hi)))
        region = Span(max(start, region.start), min(end, region.end))
        fix = replace(target, text=doc, span=region)
        request = request_for(fix, opts, region.text(doc))
        kw = _kw(Hooks(None, hooks.should_stop), opts)
        if round_ < rounds - 1 and region.start < region.end:
            result = engine.repair(request, opts.sampler, margin=GUARD_MARGIN, **kw)
        else:
            result = engine.infill(request, opts.sampler, **kw)
        new = new[: region.start - start] + result.text + new[region.end - start :]
    return new, bool(added_errors(target, new)), rounds


def translation_breaks(target: Target, new: str, language: str) -> bool:
    """A translation must parse on its own in the new language, whether or not the selection parsed in its own: a
    broken selection is no licence for broken output (the model once turned a `def` with a typo into a lone
    triple quote). The file's grammar cannot judge the new text, so this is the translation's whole guard."""
    return spans.parses_cleanly(new, language) is False


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def finish(
    engine,
    target: Target,
    opts: Options,
    new: str,
    hooks: Hooks,
    label: str,
    steps: int,
    note: str = "",
    confidence: float | None = None,
    floor: float = 0.0,
    parse_as: str | None = None,
) -> Outcome:
    """Gate the text (confidence floor, then the syntax guard), diff it against the old span, say what happened.

    A refused edit comes back with no replacements (nothing is applied) and the edit in `withheld`. `parse_as`:
    a translation, checked on its own in the language it was translated to (the file's grammar cannot judge it).
    """
    old = target.old
    shown = f" (confidence {confidence:.2f})" if confidence is not None else ""
    if old.strip() and not new.strip():
        msg = f"{label}: the model produced no text for the selection, so nothing was changed"
        return Outcome(old, (), _join(msg, note), False, steps, confidence=confidence)
    if confidence is not None and floor > 0 and confidence < floor and new != old:
        reps = tuple(diff_span(old, new, target.span.start))
        msg = (
            f"{label}: nothing offered: the model rates its own text unlikely (confidence {confidence:.2f}, under "
            f"the floor {floor:.2f})"
        )
        broken = bool(added_errors(target, new))  # not guarded (that costs model calls), but labelled
        if broken:
            msg += "; it would not parse either"
        return Outcome(old, (), _join(msg, note), broken, steps, "confidence", reps, confidence)
    if parse_as is not None:
        new, flagged, rounds = new, translation_breaks(target, new, parse_as), 0
    else:
        new, flagged, rounds = guard(engine, target, opts, new, hooks)
    reps = tuple(diff_span(old, new, target.span.start))
    if not reps:
        msg = f"{label}: the model kept the selection as it was{shown}"
        return Outcome(old, (), _join(msg, note), False, steps, confidence=confidence)
    if flagged and parse_as:
        msg = f"{label}: not applied: the translation does not parse as {parse_as}{shown}"
        return Outcome(old, (), _join(msg, note), True, steps, "syntax", reps, confidence)
    if flagged:
        doc = target.text[: target.span.start] + new + target.text[target.span.end :]
        where = added_errors(target, new) or [Span(target.span.start, target.span.start)]
        msg = (
            f"{label}: not applied: the model's text would add a syntax error at line {_line_of(doc, where[0].start)}"
            f" and {rounds} re-denoising round{'s' if rounds != 1 else ''} could not fix it{shown}"
        )
        return Outcome(old, (), _join(msg, note), True, steps, "syntax", reps, confidence)
    msg = f"{label}: {len(reps)} edit{'s' if len(reps) != 1 else ''} in {steps} steps{shown}"
    if rounds:
        msg += f"; the syntax guard re-denoised {rounds} time{'s' if rounds != 1 else ''}"
    return Outcome(new, reps, _join(msg, note), False, steps, confidence=confidence)


def _join(message: str, note: str) -> str:
    return f"{message}. {note}" if note else message


# --- the actions --------------------------------------------------------------------------------------------
def regenerate(engine, target: Target, opts: Options, hooks: Hooks = Hooks()) -> Outcome:
    """Mask the whole span and denoise it with the file as context."""
    request = request_for(target, opts, target.old, single_line="\n" not in target.old)
    result = engine.infill(request, opts.sampler, **_kw(hooks, opts))
    floor = opts.gates.regenerate_floor
    return finish(
        engine, target, opts, result.text, hooks, "Regenerate", result.steps, "", result.min_confidence, floor
    )


def repair(engine, target: Target, opts: Options, hooks: Hooks = Hooks()) -> Outcome:
    """Correct misspelt words (`spelling_fixes`); when there are none, keep the span and reopen only tokens the
    model is confident are wrong (`Gates.repair_margin`), and denoise those."""
    if not target.old.strip():
        return Outcome(target.old, (), "Repair: the selection is empty: nothing to repair")
    fixed = spelling_fixes(engine, target, opts)
    if fixed:
        new = spelling.apply(target.text, target.span, fixed)
        return finish(engine, target, opts, new, hooks, "Repair", 1, f"spelling: {spelling.describe(fixed)}")
    margin = opts.gates.repair_margin
    request = request_for(target, opts, target.old)
    result = engine.repair(request, opts.sampler, margin=margin, **_kw(hooks, opts))
    if result.remasked == 0 or result.text == target.old:
        why = (
            f"no token is {margin:g} nats less likely than the model's best alternative"
            if result.remasked == 0
            else "the model put the reopened tokens back as they were"
        )
        return Outcome(target.old, (), f"Repair: nothing to repair ({why})", steps=result.steps)
    before, after = target.text[: target.span.start], target.text[target.span.end :]
    names = spelling.names_taken_away(before, target.old, result.text, after)
    if names:  # a name the file uses elsewhere is not a misspelling: changing it is a guess, not a repair
        return Outcome(target.old, (), f"Repair: nothing to repair ({spelling.names_note(names)})", steps=result.steps)
    note = f"{result.remasked} token{'s' if result.remasked != 1 else ''} reopened"
    return finish(engine, target, opts, result.text, hooks, "Repair", result.steps, note)


def spelling_fixes(engine, target: Target, opts: Options) -> list[spelling.Fix]:
    """The misspelt words of the span the model corrects by at least `Gates.spelling_margin` (one model call)."""
    if opts.gates.spelling_margin is None:
        return []
    names = opts.index.names() if opts.index is not None else ()
    return spelling.fixes(
        engine, target.text, target.span, target.language, opts.gates.spelling_margin, opts.context_tokens, names
    )


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
    confidence = min(r.min_confidence for r in results)
    return finish(engine, target, opts, new, hooks, label, max(r.steps for r in results), "", confidence)


def fill_span(target: Target) -> Span:
    """Where "fill placeholders" works: the selection, or for an empty one the definition (else line) around it."""
    if target.span.start != target.span.end:
        return target.span
    around = spans.enclosing_definition(target.text, target.span.start, target.language)
    return around or spans.line_span(target.text, target.span)


def _shares_line(text: str, hole: Span) -> bool:
    line = spans.line_span(text, hole)
    return bool(text[line.start : hole.start].strip() or text[hole.end : line.end].strip())


def rewrite(
    engine, target: Target, opts: Options, instruction: str, hooks: Hooks = Hooks(), parse_as: str | None = None
) -> Outcome:
    """Rewrite the span following an instruction: the chat template when the model has one, else a comment."""
    instruction = " ".join(instruction.split())
    if not instruction:
        return Outcome(target.old, (), "Rewrite: the instruction is empty, so nothing was changed")
    if getattr(engine, "supports_chat", False):
        result = engine.rewrite(request_for(target, opts, target.old), instruction, opts.sampler, **_kw(hooks, opts))
        return finish(
            engine, target, opts, result.text, hooks, "Rewrite", result.steps, "", result.min_confidence, 0.0, parse_as
        )
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
    return finish(
        engine, target, opts, result.text, hooks, "Rewrite", result.steps, note, result.min_confidence, 0.0, parse_as
    )


def translate(engine, target: Target, opts: Options, language: str, hooks: Hooks = Hooks()) -> Outcome:
    """Translate the span to another language (a rewrite with a fixed instruction)."""
    language = language.strip()
    if not language:
        return Outcome(target.old, (), "Translate: no target language was given, so nothing was changed")
    grammar = detect_language(language)
    parse_as = None if grammar == target.language else (grammar or "")  # "": no grammar to judge it by
    outcome = rewrite(engine, target, opts, f"Translate the following code to {language}.", hooks, parse_as)
    return replace(outcome, message=outcome.message.replace("Rewrite", f"Translate to {language}", 1))


def completion_request(target: Target, opts: Options, single_line: bool) -> InfillRequest:
    """The request for an inline completion at the target's (empty) span."""
    return request_for(target, opts, single_line=single_line)


def explicit(opts: Options) -> Options:
    """Options for a completion the user asked for (a key, not typing): an empty hole is not an answer."""
    return replace(opts, sampler=replace(opts.sampler, min_tokens=1))


def typing(opts: Options) -> Options:
    """Options for a typing-triggered completion, where an early "no" is the common answer: the denoising stops
    as soon as the answer falls under the completion floor (it would be withheld anyway), and after the first
    model call when the model reads the hole as empty (`TYPING_EMPTY_ABOVE`)."""
    sampler = replace(
        opts.sampler,
        give_up_below=opts.gates.completion_floor,
        empty_above=TYPING_EMPTY_ABOVE,
        pad_run_above=min(opts.sampler.pad_run_above, TYPING_PAD_RUN_ABOVE),  # 0 (off) stays off
    )
    return replace(opts, sampler=sampler)


def complete(engine, request: InfillRequest, opts: Options, hooks: Hooks = Hooks()) -> str:
    """Inline completion: the text to insert (one line when the request is single-line), ungated."""
    text = engine.infill(request, opts.sampler, **_kw(hooks, opts)).text
    return trim_completion(text, request.single_line)


def complete_gated(
    engine,
    target: Target,
    request: InfillRequest,
    opts: Options,
    floor: float,
    hooks: Hooks = Hooks(),
    fix_syntax: bool = False,
) -> Completion:
    """Inline completion at the target's (empty) span through the gates: nothing is offered when the model's
    confidence is under `floor` (0: no floor) or when inserting the text would add a syntax error.

    `fix_syntax` (explicit requests, which should answer): text that adds a syntax error first gets the syntax
    guard's re-denoising rounds; only what still breaks the file is withheld.
    """
    result = engine.infill(request, opts.sampler, **_kw(hooks, opts))
    text = trim_completion(result.text, request.single_line)
    confidence = result.min_confidence if text else None
    if not text:
        return Completion("", None, "", "the model proposed nothing here")
    if floor > 0 and confidence < floor:
        msg = f"completion withheld: confidence {confidence:.2f} is under the floor {floor:.2f}"
        return Completion("", confidence, "confidence", msg)
    if added_errors(target, text):
        if fix_syntax:
            fixed, flagged, rounds = guard(engine, target, opts, text, hooks)
            fixed = trim_completion(fixed, request.single_line)
            if fixed and not flagged and not added_errors(target, fixed):
                note = f"; the syntax guard re-denoised {rounds} time{'s' if rounds != 1 else ''}"
                return Completion(fixed, confidence, "", f"completion (confidence {confidence:.2f}){note}")
        return Completion("", confidence, "syntax", "completion withheld: it would add a syntax error")
    return Completion(text, confidence, "", f"completion (confidence {confidence:.2f})")


def trim_completion(text: str, single_line: bool) -> str:
    """Cut a completion to its first line when it must stay on the line; drop trailing blank space."""
    if single_line:
        text = text.split("\n", 1)[0]
    return text.rstrip()
