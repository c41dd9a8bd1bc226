"""The gates on held-out files: Repair's margin, the confidence floors, and the syntax guard (`eval --gates`).

Three measurements, each on holes cut from files the model never trained on (`model.heldout`), all through the
same action functions the language server calls (`lsp_server.actions`), so what is measured is what users get:

- repair: correct lines, and the same lines with one misspelt identifier or keyword; per margin, the share of
  correct lines Repair changes and the share of typos it fixes (its output is the original line);
- floors: Regenerate on whole lines and inline completion on line tails with no floor; per floor, the share of
  requests that would be answered and the exact-match rate of those answered;
- guard: Regenerate, Rewrite (instruction) and inline completion requests with the floors off, so every answer
  meets the syntax guard; an applied edit that adds a parse error is counted, checked again independently of the
  guard's own bookkeeping.
"""

from __future__ import annotations

import keyword
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server import actions, spans, spelling
from lsp_server.spans import Span
from model.heldout import HeldOutCase, held_out_files, make_cases

MARGINS = (2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)
SPELLING_MARGINS = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)
FLOORS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
INSTRUCTIONS = (
    "simplify this code",
    "use clearer variable names",
    "add error handling",
    "make this faster",
    "use a list comprehension",
)
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
Progress = Callable[[str, int, int], None]  # (part, done, total)


@dataclass(frozen=True)
class RepairCase:
    """A line of a held-out file as it is (`typo` empty) or with one word misspelt."""

    text: str  # the file as the user has it (with the typo, when there is one)
    start: int  # the line's span (content, indentation excluded) in `text`
    end: int
    truth: str  # the correct line
    kind: str  # "correct", "keyword" or "identifier"
    typo: str = ""  # the misspelt word


def _misspell(word: str, rng: random.Random) -> str:
    """One keyboard slip: two neighbouring letters swapped, a letter dropped, or a letter doubled."""
    ops = ["swap", "double"] + (["drop"] if len(word) >= 4 else [])
    op = rng.choice(ops)
    i = rng.randrange(len(word) - 1)
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[: i + 1] + word[i] + word[i + 1 :]


def typo_of(case: HeldOutCase, rng: random.Random) -> RepairCase | None:
    """The case's line with one identifier or keyword (3+ letters, outside strings and comments) misspelt."""

    text = case.request.prefix + case.truth + case.request.suffix
    at = len(case.request.prefix)
    words_in_file = set(_WORD.findall(text))
    found = [
        m
        for m in _WORD.finditer(case.truth)
        if len(m.group()) >= 3 and not spans._in_string_or_comment(text, at + m.start() + 1, case.language)
    ]
    rng.shuffle(found)
    for m in found:
        word = m.group()
        for _ in range(4):
            bad = _misspell(word, rng)
            if bad != word and bad not in words_in_file and not keyword.iskeyword(bad):
                line = case.truth[: m.start()] + bad + case.truth[m.end() :]
                kind = "keyword" if keyword.iskeyword(word) else "identifier"
                doc = case.request.prefix + line + case.request.suffix
                return RepairCase(doc, at, at + len(line), case.truth, kind, bad)
    return None


def repair_cases(files, n: int, seed: int, tok) -> tuple[list[RepairCase], list[RepairCase]]:
    """`n` correct held-out lines and up to `n` one-typo lines (made from other held-out lines)."""
    lines = make_cases(files, "line", 3 * n, seed, 24, tok)
    correct = [
        RepairCase(c.request.prefix + c.truth + c.request.suffix, len(c.request.prefix),
                   len(c.request.prefix) + len(c.truth), c.truth, "correct")
        for c in lines[:n]
    ]
    rng = random.Random(seed + 1)
    typos: list[RepairCase] = []
    for c in lines[n:]:
        if len(typos) >= n:
            break
        t = typo_of(c, rng)
        if t is not None:
            typos.append(t)
    return correct, typos


def _options(gates, sampler=None):

    return actions.Options(sampler=sampler or actions.SamplerConfig(), gates=gates)


def measure_repair(
    engine, correct, typos, margins=MARGINS, spelling_margins=SPELLING_MARGINS, on_progress: Progress | None = None
) -> dict:
    """Repair as the server runs it, per token margin (spelling fixes at their default margin first), and its
    spelling fixes alone per spelling margin: the share of correct lines changed and of typos fixed."""

    names = ("correct_changed", "typo_fixed", "typo_changed", "keyword_fixed", "identifier_fixed")
    rows = {m: dict.fromkeys(names, 0) for m in margins}
    spelled_rows = {m: dict.fromkeys(names, 0) for m in spelling_margins}
    no_model = dict.fromkeys(names, 0)
    cases = correct + typos
    for i, case in enumerate(cases):
        target = actions.Target(case.text, Span(case.start, case.end), "python")
        opts = _options(actions.Gates())
        proposed = spelling.proposals(target.text, target.span, target.language)
        # Every suspect's best correction whatever its gain: a spelling margin is then a filter on the gains.
        best = spelling.choose(engine, target.text, proposed, -math.inf, opts.context_tokens)
        for m in spelling_margins:
            chosen = [f for f in best if f.gain >= m]
            _count(spelled_rows[m], case, spelling.apply(target.text, target.span, chosen) if chosen else target.old)
        _count(no_model, case, _most_used(target, proposed))
        for m, new in _repaired(engine, target, case, best, margins).items():
            _count(rows[m], case, new)
        if on_progress:
            on_progress("repair", i + 1, len(cases))
    n_kw = sum(c.kind == "keyword" for c in typos)
    n_id = sum(c.kind == "identifier" for c in typos)

    def rates(r: dict) -> dict:
        return {
            "correct_changed": round(r["correct_changed"] / max(1, len(correct)), 4),
            "typo_fixed": round(r["typo_fixed"] / max(1, len(typos)), 4),
            "typo_changed": round(r["typo_changed"] / max(1, len(typos)), 4),
            "keyword_fixed": round(r["keyword_fixed"] / max(1, n_kw), 4),
            "identifier_fixed": round(r["identifier_fixed"] / max(1, n_id), 4),
        }

    return {"correct": len(correct), "typos": len(typos), "keyword_typos": n_kw, "identifier_typos": n_id,
            "spelling_margin": actions.SPELLING_MARGIN,
            "by_margin": [{"margin": m, **rates(r)} for m, r in rows.items()],
            "spelling_by_margin": [{"spelling_margin": m, **rates(r)} for m, r in spelled_rows.items()],
            "spelling_no_model": rates(no_model)}


def _most_used(target, proposed: list[spelling.Suspect]) -> str:
    """The spelling fixes with no model, for comparison: every proposed suspect takes its candidate used most in
    the file."""
    counts = Counter(spelling.WORD.findall(target.text))
    chosen = [spelling.Fix(s.start, s.end, s.word, max(s.candidates, key=lambda c: counts[c]), 0.0) for s in proposed]
    return spelling.apply(target.text, target.span, chosen) if chosen else target.old


def measure_whole_files(engine, files, margins=SPELLING_MARGINS, on_progress: Progress | None = None) -> dict:
    """Spelling fixes over whole held-out files, which are correct code: per margin, the words a Repair of the
    whole file would change (every one a false correction), as `convert --repair` would run it."""
    gains, suspects, no_model, lines = [], 0, 0, 0
    for i, f in enumerate(files):
        whole = Span(0, len(f.text))
        target = actions.Target(f.text, whole, f.language)
        suspects += len(spelling.suspects(f.text, whole, f.language))
        proposed = spelling.proposals(f.text, whole, f.language)
        guessed = spelling.WORD.findall(_most_used(target, proposed))
        no_model += sum(a != b for a, b in zip(guessed, spelling.WORD.findall(f.text)))
        gains += [x.gain for x in spelling.choose(engine, f.text, proposed, -math.inf)]
        lines += f.text.count("\n")
        if on_progress:
            on_progress("whole files", i + 1, len(files))
    return {"files": len(files), "lines": lines, "suspects": suspects, "no_model_words_changed": no_model,
            "by_margin": [{"spelling_margin": m, "words_changed": sum(g >= m for g in gains)} for m in margins]}


def _repaired(engine, target, case: RepairCase, best, margins) -> dict[float, str]:
    """The span's text after the server's Repair at each token margin (the gates' other defaults)."""
    if any(f.gain >= actions.SPELLING_MARGIN for f in best):  # spelling fixes answer before any token margin
        out = actions.repair(engine, target, _options(actions.Gates()))
        return dict.fromkeys(margins, out.new_text if out.replacements else target.old)
    request = actions.request_for(target, _options(actions.Gates()), target.old)
    scored = [m for _, m in engine.token_margins(request)]
    outputs: dict[float, str] = {}
    by_reopened: dict[tuple[int, ...], str] = {}  # the same reopened tokens give the same answer
    for m in margins:
        reopened = tuple(j for j, g in enumerate(scored) if g >= m)
        if not reopened:  # no token clears the margin: Repair reopens nothing and answers "nothing to repair"
            outputs[m] = target.old
        elif reopened in by_reopened:
            outputs[m] = by_reopened[reopened]
        else:
            gates = actions.Gates(repair_margin=m, spelling_margin=None)  # spelling found nothing above
            out = actions.repair(engine, target, _options(gates))
            outputs[m] = by_reopened[reopened] = out.new_text if out.replacements else target.old
    return outputs


def _count(row: dict, case: RepairCase, new: str) -> None:
    if case.kind == "correct":
        row["correct_changed"] += new != case.truth
        return
    row["typo_changed"] += new != case.text[case.start : case.end]
    fixed = new == case.truth
    row["typo_fixed"] += fixed
    row[f"{case.kind}_fixed"] += fixed


def floor_table(rows: list[dict], floors=FLOORS) -> list[dict]:
    """Per floor: share of requests answered (confidence at or over it, not refused by the guard) and the
    exact-match rate of those answered. `rows`: {confidence, exact, guard_refused}."""
    out = []
    for f in floors:
        answered = [r for r in rows if r["confidence"] is not None and r["confidence"] >= f and not r["guard_refused"]]
        out.append({
            "floor": f,
            "answered": round(len(answered) / max(1, len(rows)), 4),
            "answered_n": len(answered),
            "exact_of_answered": round(sum(r["exact"] for r in answered) / max(1, len(answered)), 4),
        })
    return out


def _adds_errors(before: str, after: str, start: int, old_end: int, new_end: int, language: str) -> bool:
    """Independent re-check of an applied edit: a clean file must stay clean; otherwise no new error regions."""

    clean_before = spans.parses_cleanly(before, language)
    if clean_before is None:
        return False
    if clean_before:
        return spans.parses_cleanly(after, language) is False
    return bool(spans.added_errors(before, after, start, old_end, new_end, language))


def measure_guard(engine, files, n: int, seed: int, on_progress: Progress | None = None) -> tuple[dict, dict]:
    """Regenerate, Rewrite and inline completion on `n` held-out holes each, floors off.

    Returns (guard counts, floor tables for regenerate and completion).
    """

    off = _options(actions.Gates(regenerate_floor=0.0, completion_floor=0.0))
    kinds = {
        "regenerate": make_cases(files, "line", n, seed + 10, 24, engine.tok),
        "rewrite": make_cases(files, "lines", n, seed + 20, 48, engine.tok),
        "completion": make_cases(files, "line_tail", n, seed + 30, 24, engine.tok),
    }
    total = sum(len(c) for c in kinds.values())
    counts = {k: {"requests": 0, "applied": 0, "refused_syntax": 0, "guard_rounds_used": 0, "adds_errors": 0,
                  "parsed_before": 0} for k in kinds}
    floors: dict[str, list[dict]] = {"regenerate": [], "completion": []}
    done = 0
    for kind, cases in kinds.items():
        for i, case in enumerate(cases):
            c = counts[kind]
            c["requests"] += 1
            pre, suf = case.request.prefix, case.request.suffix
            if kind == "completion":  # the user is at the cursor; the rest of the line is not typed yet
                text = pre + suf
                target = actions.Target(text, Span(len(pre), len(pre)), "python")
                single = spans.is_single_line(text, len(pre), "python")
                request = actions.completion_request(target, off, single)
                got = actions.complete_gated(engine, target, request, off, 0.0)
                new, applied = got.text, bool(got.text)
                c["refused_syntax"] += got.refused == "syntax"
                floors["completion"].append({
                    "confidence": got.confidence,
                    "exact": got.text.strip() == case.truth.strip(),
                    "guard_refused": got.refused == "syntax",
                })
                old_end = len(pre)
            else:
                text = pre + case.truth + suf
                target = actions.Target(text, Span(len(pre), len(pre) + len(case.truth)), "python")
                if kind == "regenerate":
                    out = actions.regenerate(engine, target, off)
                else:
                    out = actions.rewrite(engine, target, off, INSTRUCTIONS[i % len(INSTRUCTIONS)])
                applied = bool(out.replacements)
                new = out.new_text if applied else case.truth
                c["refused_syntax"] += out.refused == "syntax"
                c["guard_rounds_used"] += "syntax guard re-denoised" in out.message
                if kind == "regenerate":
                    empty = "produced no text" in out.message  # an empty answer is no answer
                    floors["regenerate"].append({
                        "confidence": None if empty else out.confidence,
                        "exact": not empty and new.strip() == case.truth.strip(),
                        "guard_refused": out.refused == "syntax",
                    })
                old_end = len(pre) + len(case.truth)
            c["parsed_before"] += spans.parses_cleanly(text, "python") is True
            if applied:
                c["applied"] += 1
                after = text[: len(pre)] + new + text[old_end:]
                c["adds_errors"] += _adds_errors(text, after, len(pre), old_end, len(pre) + len(new), "python")
            done += 1
            if on_progress:
                on_progress("guard", done, total)
    summary = {
        "requests": sum(c["requests"] for c in counts.values()),
        "applied": sum(c["applied"] for c in counts.values()),
        "refused_syntax": sum(c["refused_syntax"] for c in counts.values()),
        "applied_adding_errors": sum(c["adds_errors"] for c in counts.values()),
        "by_kind": counts,
    }
    return summary, {k: floor_table(v) for k, v in floors.items()}


PARTS = ("guard", "repair")


def evaluate_gates(
    engine, cases: int = 70, seed: int = 0, on_progress: Progress | None = None, parts: tuple[str, ...] = PARTS
) -> dict:
    """Everything `instant-edit eval --gates` prints: the guard count and floor tables, repair per margin."""

    files = held_out_files()
    report = {
        "model": engine.name,
        "held_out_files": len(files),
        "defaults": {"repair_margin": actions.REPAIR_MARGIN, "spelling_margin": actions.SPELLING_MARGIN,
                     "regenerate_floor": actions.REGENERATE_FLOOR, "completion_floor": actions.COMPLETION_FLOOR},
    }
    if "guard" in parts:
        report["guard"], report["floors"] = measure_guard(engine, files, cases, seed, on_progress)
    if "repair" in parts:
        correct, typos = repair_cases(files, cases, seed, engine.tok)
        report["repair"] = measure_repair(engine, correct, typos, on_progress=on_progress)
        report["repair"]["whole_files"] = measure_whole_files(engine, files, on_progress=on_progress)
    return report


def render(report: dict) -> str:
    """The report as plain-text tables."""
    lines = [f"model {report['model']}, {report['held_out_files']} held-out files; defaults {report['defaults']}"]
    if "guard" in report:
        lines += _guard_lines(report)
    if "repair" in report:
        lines += _repair_lines(report["repair"])
    return "\n".join(lines)


def _guard_lines(report: dict) -> list[str]:
    g = report["guard"]
    lines = [""]
    lines.append(
        f"syntax guard (floors off): {g['requests']} requests, {g['applied']} edits applied, "
        f"{g['refused_syntax']} refused as not parsing, "
        f"{g['applied_adding_errors']} applied edits adding a syntax error"
    )
    for kind, c in g["by_kind"].items():
        lines.append(
            f"  {kind:<11} requests {c['requests']:>4}  applied {c['applied']:>4}  refused (syntax) "
            f"{c['refused_syntax']:>4}  adding errors {c['adds_errors']}"
        )
    for name, table in report["floors"].items():
        lines += ["", f"confidence floor, {name}: floor | answered | exact of answered"]
        lines += [f"  {r['floor']:.1f} | {r['answered']:7.1%} ({r['answered_n']}) | {r['exact_of_answered']:6.1%}"
                  for r in table]
    return lines


def _repair_lines(r: dict) -> list[str]:
    lines = ["", f"repair: {r['correct']} correct lines, {r['typos']} one-typo lines ({r['keyword_typos']} keyword, "
              f"{r['identifier_typos']} identifier), spelling fixes at {r['spelling_margin']:g} nats first: margin | "
              "correct changed | typos fixed (kw / id) | typos changed"]
    lines += [_repair_row(m, f"{m['margin']:.1f}") for m in r["by_margin"]]
    lines += ["", "spelling fixes alone: spelling margin | correct changed | typos fixed (kw / id) | typos changed"]
    lines += [_repair_row(m, f"{m['spelling_margin']:.1f}") for m in r["spelling_by_margin"]]
    lines.append(_repair_row(r["spelling_no_model"], "no model (the candidate used most in the file)"))
    w = r.get("whole_files")
    if w:
        lines += ["", f"spelling fixes over {w['files']} whole held-out files ({w['lines']} lines of correct code, "
                  f"{w['suspects']} suspect words): spelling margin | words changed"]
        lines += [f"  {m['spelling_margin']:.1f} | {m['words_changed']}" for m in w["by_margin"]]
        lines.append(f"  no model (the candidate used most in the file) | {w['no_model_words_changed']}")
    return lines


def _repair_row(m: dict, label: str) -> str:
    return (f"  {label} | {m['correct_changed']:6.1%} | {m['typo_fixed']:6.1%} ({m['keyword_fixed']:.1%} / "
            f"{m['identifier_fixed']:.1%}) | {m['typo_changed']:6.1%}")




def run_cli(engine, cases: int, seed: int = 0, parts: tuple[str, ...] = PARTS) -> int:
    """`instant-edit eval --gates`: the tables on stderr, the report as JSON on stdout."""
    import json
    import sys

    def progress(part: str, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            print(f"gates: {part} {done}/{total}", file=sys.stderr, flush=True)

    report = evaluate_gates(engine, cases, seed, progress, parts)
    print(render(report), file=sys.stderr)
    print(json.dumps(report))
    return 0


__all__ = [
    "evaluate_gates", "floor_table", "measure_guard", "measure_repair", "render", "repair_cases", "run_cli", "typo_of",
]
