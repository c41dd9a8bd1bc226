"""The gates with the real embedded model: error regions, Repair's margin, confidence floors, the held-out report."""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from lsp_server import actions, edits, spans
from lsp_server.cli import eval_gates as gates
from lsp_server.settings import Settings
from lsp_server.spans import Span
from model.engine import InfillRequest
from model.heldout import HeldOutCase

ROOT = Path(__file__).resolve().parents[1]

CLEAN = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
MID_EDIT = "def broken(:\n    pass\n\n\ndef sub(a, b):\n    return a - b\n"


def _added(before: str, old: str, new: str) -> list[Span] | None:
    start = before.index(old)
    after = before[:start] + new + before[start + len(old) :]
    return spans.added_errors(before, after, start, start + len(old), start + len(new), "python")


def test_added_errors_compare_regions_so_a_file_mid_edit_elsewhere_is_guarded():
    assert _added(CLEAN, "return a - b", "return a * b") == []
    assert _added(CLEAN, "return a - b", "return (a - b")  # a clean file may not break
    assert spans.parses_cleanly(MID_EDIT, "python") is False
    assert _added(MID_EDIT, "return a - b", "return a * b") == []  # its own error is not counted
    added = _added(MID_EDIT, "return a - b", "return a -")
    assert added and all(e.start >= MID_EDIT.index("def sub") for e in added)  # only the new one
    assert _added(MID_EDIT, "def broken(:", "def broken():") == []  # fixing an error is fine
    assert spans.added_errors("x", "y", 0, 1, 1, None) is None  # no grammar: the guard cannot judge


def test_syntax_guard_refuses_text_it_cannot_fix_and_keeps_it_for_apply_anyway(engine):
    target = actions.Target(CLEAN, Span(CLEAN.index("a - b"), CLEAN.index("a - b") + 5), "python")
    no_rounds = actions.Options(gates=actions.Gates(guard_rounds=0))
    out = actions.finish(engine, target, no_rounds, "(a - ", actions.Hooks(), "Regenerate", 1)
    assert out.replacements == () and out.refused == "syntax" and out.flagged
    assert "not applied" in out.message and "syntax error at line 6" in out.message
    forced = edits.apply(CLEAN, list(out.withheld))  # what "Apply anyway (does not parse)" would write
    assert "(a - \n" in forced and spans.parses_cleanly(forced, "python") is False
    # With re-denoising rounds the result is applied only when it parses; otherwise refused the same way.
    guarded = actions.finish(engine, target, actions.Options(), "(a - ", actions.Hooks(), "Regenerate", 1)
    if guarded.replacements:
        assert spans.parses_cleanly(edits.apply(CLEAN, list(guarded.replacements)), "python")
    else:
        assert guarded.refused == "syntax" and guarded.withheld


def test_regenerate_under_its_floor_offers_nothing_and_says_why(engine):
    text = "def total(values):\n    zzq = qqz + wwx ** 7\n    return zzq\n"
    # The right-hand side: an empty answer would not parse, so the model has to write something (for the whole
    # line, session 27's default answers nothing, and there is nothing to refuse).
    span = Span(text.index("qqz +"), text.index("\n    return"))
    target = actions.Target(text, span, "python")
    strict = actions.Options(gates=actions.Gates(regenerate_floor=1.01))  # nothing is that sure
    out = actions.regenerate(engine, target, strict)
    assert out.replacements == () and out.refused == "confidence" and out.withheld
    assert out.confidence is not None and f"confidence {out.confidence:.2f}" in out.message
    assert "under the floor 1.01" in out.message
    open_ = actions.regenerate(engine, target, actions.Options(gates=actions.Gates(regenerate_floor=0.0)))
    assert open_.refused != "confidence" and open_.confidence == out.confidence  # same text, same score


def test_repair_margin_separates_a_typo_from_correct_code(engine):
    prefix = "import os\n\n\ndef add(a, b):\n    "
    suffix = "\n\n\ndef sub(a, b):\n    return a - b\n"
    correct = [m for _, m in engine.token_margins(InfillRequest(prefix, suffix, "return a + b"))]
    typo = [m for _, m in engine.token_margins(InfillRequest(prefix, suffix, "retrun a + b"))]
    assert max(typo) > max(correct)
    text = prefix + "return a + b" + suffix
    target = actions.Target(text, Span(len(prefix), len(prefix) + len("return a + b")), "python")
    out = actions.repair(engine, target, actions.Options(gates=actions.Gates(repair_margin=max(correct) + 0.01)))
    assert out.replacements == () and out.message.startswith("Repair: nothing to repair")
    loose = actions.repair(engine, target, actions.Options(gates=actions.Gates(repair_margin=-100.0)))
    assert "nothing to repair (no token" not in loose.message  # every token clears a margin of -100: reopened


def test_repair_keeps_a_name_the_file_uses_elsewhere(engine):
    # Session 30's candidate, at the shipped margin, turned a correct `quopri.decode(f, g)` in the standard
    # library's quopri codec into `quopri.decode(f, errors)`. A misspelt name is unique; `g` is defined above.
    text = "import quopri\nfrom io import BytesIO\n\n\ndef decode(data, errors):\n    f = BytesIO(data)\n"
    text += "    g = BytesIO()\n    quopri.decode(f, g)\n    return g.getvalue()\n"
    start = text.index("quopri.decode(f, g)")
    target = actions.Target(text, Span(start, start + len("quopri.decode(f, g)")), "python")
    loose = actions.Gates(repair_margin=-100.0, spelling_margin=None)  # every token reopened and written anew
    out = actions.repair(engine, target, actions.Options(gates=loose))
    assert out.replacements == () and "which the file uses elsewhere: a name, not a slip" in out.message
    assert out.message.startswith("Repair: nothing to repair (the model would change ")


def test_word_widening_reopens_every_piece_of_a_misspelt_word(engine):
    from model.sampler import Sampler, SamplerConfig

    text = "x = retrun(a)"
    ids = engine.tok.encode(text)
    ends = [len(engine.tok.decode(ids[: i + 1])) for i in range(len(ids))]
    word = [i for i, end in enumerate(ends) if text.index("retrun") < end <= text.index("(")]
    weak = [i == word[-1] for i in range(len(ids))]  # only the word's last piece is judged wrong
    cfg = SamplerConfig(remask_margin=5.0, remask_words=True)
    groups = Sampler(engine.net, engine.special, cfg, None, engine.word_pieces)._word_groups(ids, weak)
    assert [engine.tok.decode(ids[lo:hi]).strip() for lo, hi in groups] == ["retrun"]
    single = Sampler(engine.net, engine.special, replace(cfg, remask_words=False), None, engine.word_pieces)
    assert [hi - lo for lo, hi in single._word_groups(ids, weak)] == [1]


def test_typing_completion_under_its_floor_is_withheld_and_an_explicit_one_answers(engine):
    text = "def add(a, b):\n    return \n"
    at = text.index("return ") + len("return ")
    target = actions.Target(text, Span(at, at), "python")
    opts = actions.explicit(actions.Options())
    request = actions.completion_request(target, opts, True)
    typed = actions.complete_gated(engine, target, request, opts, 1.01)
    assert typed.text == "" and typed.refused == "confidence" and "under the floor" in typed.message
    asked = actions.complete_gated(engine, target, request, opts, 0.0)  # no floor: only the guard may withhold
    assert asked.confidence == typed.confidence and asked.refused in ("", "syntax")
    if asked.text:
        assert "\n" not in asked.text and spans.parses_cleanly(text[:at] + asked.text + text[at:], "python")
    else:
        assert "syntax error" in asked.message


def test_typing_completions_close_their_pad_tail_in_fewer_calls(engine):
    """Typing-triggered requests close a tail of likely pads at a lower bound than the actions, so held-out line
    ends take fewer model calls; a setting that turns pad runs off stays off."""
    from model.heldout import held_out_files, make_cases

    typing = actions.typing(actions.Options())
    assert typing.sampler.pad_run_above < actions.Options().sampler.pad_run_above
    off = actions.Options(sampler=replace(actions.Options().sampler, pad_run_above=0.0))
    assert actions.typing(off).sampler.pad_run_above == 0.0
    cases = make_cases(held_out_files(), "line_tail", 12, seed=3, tok=engine.tok)
    plain_cfg = replace(typing.sampler, pad_run_above=actions.Options().sampler.pad_run_above)
    plain = [engine.infill(replace(c.request, budget=8), plain_cfg) for c in cases]
    quick = [engine.infill(replace(c.request, budget=8), typing.sampler) for c in cases]
    assert sum(r.nfe for r in quick) < sum(r.nfe for r in plain)


def test_typo_cases_misspell_one_word_outside_strings_and_comments():
    text = "import os\n\n\ndef main(path):\n    return os.path.join(path, 'name')  # the joined path\n"
    line = "return os.path.join(path, 'name')  # the joined path"
    at = text.index(line)
    case = HeldOutCase(InfillRequest(text[:at], text[at + len(line) :]), line, "python", "x.py")
    for seed in range(20):
        t = gates.typo_of(case, random.Random(seed))
        assert t is not None and t.truth == line and t.kind in ("keyword", "identifier")
        broken = t.text[t.start : t.end]
        assert broken != line and t.text.replace(broken, line) == text
        assert "'name'" in broken and "# the joined path" in broken  # strings and comments untouched
        assert t.typo not in {"return", "os", "path", "join"}


def test_floor_table_counts_answers_and_exact_matches():
    rows = [
        {"confidence": 0.9, "exact": True, "guard_refused": False},
        {"confidence": 0.6, "exact": False, "guard_refused": False},
        {"confidence": 0.95, "exact": True, "guard_refused": True},  # refused by the guard: never answered
        {"confidence": None, "exact": False, "guard_refused": False},  # no text at all
    ]
    table = {r["floor"]: r for r in gates.floor_table(rows, (0.0, 0.7, 0.99))}
    assert table[0.0]["answered"] == 0.5 and table[0.0]["exact_of_answered"] == 0.5
    assert table[0.7]["answered_n"] == 1 and table[0.7]["exact_of_answered"] == 1.0
    assert table[0.99]["answered_n"] == 0


def test_vscode_manifest_defaults_are_the_servers():
    """The VS Code extension sends its settings' values to the server, so a default in its manifest that differs
    from the server's (the gates in lsp_server/gate_defaults.py among them) silently overrides the measured one."""
    manifest = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    server = asdict(Settings())
    compared = []
    for key, spec in manifest["contributes"]["configuration"]["properties"].items():
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", key.removeprefix("instantEdit.").replace(".", "")).lower()
        if name in server:
            compared.append(name)
            assert spec.get("default") == server[name], name
    assert {"regenerate_floor", "completion_floor", "repair_margin", "spelling_margin"} <= set(compared)


@pytest.mark.slow
def test_held_out_gates_report_on_a_few_cases(engine):
    report = gates.evaluate_gates(engine, cases=2)
    guard = report["guard"]
    assert guard["requests"] == sum(k["requests"] for k in guard["by_kind"].values()) >= 3
    assert guard["applied_adding_errors"] == 0
    assert set(report["floors"]) == {"regenerate", "completion"}
    for table in report["floors"].values():
        answered = [r["answered"] for r in table]
        assert answered == sorted(answered, reverse=True)  # a higher floor never answers more
    repair = report["repair"]
    for m in [*repair["by_margin"], *repair["spelling_by_margin"], repair["spelling_no_model"]]:
        assert 0 <= m["correct_changed"] <= 1 and 0 <= m["typo_fixed"] <= m["typo_changed"] <= 1
    changed = [m["typo_changed"] for m in repair["spelling_by_margin"]]
    assert changed == sorted(changed, reverse=True)  # a higher spelling margin never changes more
    assert "repair:" in gates.render(report) and "no model" in gates.render(report)
    only = gates.evaluate_gates(engine, cases=2, parts=("repair",))
    assert "guard" not in only and only["repair"] == repair


def test_cli_repair_leaves_a_correct_line_alone(tmp_path):
    import subprocess
    import sys

    source = tmp_path / "a.py"
    source.write_text(CLEAN)
    line = CLEAN.splitlines().index("    return a - b") + 1
    args = [sys.executable, "-m", "lsp_server.cli", "infill", str(source), "--range", f"{line}:5-{line}:17", "--repair"]
    kept = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    # Nothing clears the default margin: nothing is reopened, and the server's Repair says so.
    assert kept.stdout == CLEAN and "nothing to repair (no token is" in kept.stderr
    loose = subprocess.run([*args, "--repair-margin", "-100"], capture_output=True, text=True, timeout=300, check=True)
    assert "no token is" not in loose.stderr  # every token clears -100 nats: all reopened and denoised again
    if "which the file uses elsewhere" in loose.stderr:  # the server's name rule: the file is written unchanged
        assert loose.stdout == CLEAN
    else:  # whatever it wrote keeps the names the file uses around the line
        assert {"a", "b"} <= set(loose.stdout.splitlines()[line - 1].replace("(", " ").replace(")", " ").split())


def test_a_translation_must_parse_even_when_the_selection_did_not():
    text = "def add(a, b):\n    retrun a + b\n"
    target = actions.Target(text, Span(0, len(text) - 1), "python")  # the typo: the selection does not parse
    assert actions.translation_breaks(target, '"""', "javascript")  # what the model once offered, applied
    assert not actions.translation_breaks(target, "function add(a, b) {\n  return a + b;\n}", "javascript")
