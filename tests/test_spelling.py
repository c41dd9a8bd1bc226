"""Repair's spelling fixes: which words are suspects (no model), and the real model choosing among candidates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server import actions, spelling
from lsp_server.spans import Span

ROOT = Path(__file__).resolve().parents[1]
TYPOS = (ROOT / "examples" / "typos.py").read_text()
SAMPLE = (ROOT / "examples" / "sample.py").read_text()


def _words(text: str, names=()) -> dict[str, tuple[str, ...]]:
    return {s.word: s.candidates for s in spelling.suspects(text, Span(0, len(text)), "python", names)}


def test_a_unique_word_one_keystroke_from_a_known_one_is_a_suspect():
    found = _words(TYPOS)
    assert found["vaules"] == ("values",)  # two letters swapped; `values` is used elsewhere in the file
    assert found["dicsount"] == ("discount",)
    assert "return" in found["retrun"]  # a keyword, from the grammar's keyword tokens
    assert "values" not in found and "amount" not in found  # used more than once, or known: not suspects


def test_strings_comments_short_words_and_far_words_are_not_suspects():
    text = 'def f(items):\n    # itmes in a comment\n    s = "itmes in a string"\n    return len(items, itemz) + xy\n'
    found = _words(text)
    assert list(found) == ["itemz"] and found["itemz"] == ("items",)  # `xy`: two letters, too short to judge
    # Both used once: each is the other's candidate, and the model's preference decides which way (if any).
    assert _words("def f(alpha):\n    return alpah + 1\n") == {"alpha": ("alpah",), "alpah": ("alpha",)}
    assert _words("def f(alpha):\n    return alxyz + 1\n") == {}  # three keystrokes away: no candidate


def test_a_repeated_word_is_a_suspect_only_next_to_a_keyword():
    text = "def f(a):\n    retrun a\n\n\ndef g(a):\n    retrun a\n\n\nx = countr + countr\ncount = 1\n"
    found = _words(text)
    assert "retrun" in found and "countr" not in found  # a name written twice the same way is a name
    assert "countr" in _words(text.replace("countr + countr", "countr"))


def test_name_variants_and_first_letters_are_not_slips():
    assert spelling.variant("Handle", "handle") and spelling.variant("_start", "start")
    assert spelling.variant("rc1", "rc") and spelling.variant("types", "type")
    assert not spelling.variant("vaules", "values")
    assert not spelling.first_letter_kept("rstrip", "strip") and not spelling.first_letter_kept("Lock", "sock")
    assert spelling.first_letter_kept("etarDown", "tearDown") and spelling.first_letter_kept("vaules", "values")
    text = "def f(s, strip, lock, handle):\n    return s.rstrip(), strip, Lock(lock), Handle(handle)\n"
    assert _words(text) == {}  # every one-keystroke neighbour here is a variant or a changed first letter


def test_workspace_names_and_builtins_are_known_words():
    text = "def f(rows):\n    return lenn(rows) + load_confg()\n"
    assert _words(text)["lenn"] == ("len",)
    assert "load_confg" not in _words(text)
    assert _words(text, names={"load_config"})["load_confg"] == ("load_config",)


def test_a_rewrite_that_takes_away_a_name_used_around_it_is_named():
    before, after = "g = BytesIO()\n", "\nreturn g.getvalue()\n"
    assert spelling.names_taken_away(before, "decode(f, g)", "decode(f, errors)", after) == ["g"]
    assert spelling.names_taken_away(before, "retrun g", "return g", after) == []  # `retrun` is used nowhere else
    assert spelling.names_taken_away(before, "decode(f, g)", "decode(g, f)", after) == []  # moved, not taken away
    assert spelling.names_taken_away("", "x = g", "x = f", "") == []  # nothing around: nothing to keep


def test_a_keyword_that_would_break_the_parse_is_no_candidate(engine):
    text = "class A:\n    async def asyncf(self):\n        pass\n"
    assert _words(text)["asyncf"] == ("async",)  # a suspect: one keystroke from a keyword...
    assert spelling.fixes(engine, text, Span(0, len(text)), "python", -100.0) == []  # ...that would not parse


def test_repair_fixes_the_typos_and_leaves_correct_code_alone(engine):
    target = actions.Target(TYPOS, Span(0, len(TYPOS)), "python")
    out = actions.repair(engine, target, actions.Options())
    fixed = TYPOS.replace("vaules[", "values[").replace("retrun", "return").replace("* dicsount", "* discount")
    assert out.new_text == fixed and "spelling: vaules -> values" in out.message
    words = [Span(TYPOS.index(w), TYPOS.index(w) + len(w)) for w in ("vaules", "retrun", "dicsount")]
    assert all(any(w.start <= r.start <= r.end <= w.end for w in words) for r in out.replacements)  # in the words
    clean = actions.Target(SAMPLE, Span(0, len(SAMPLE)), "python")
    assert actions.spelling_fixes(engine, clean, actions.Options()) == []
    off = actions.Options(gates=actions.Gates(spelling_margin=None))
    assert actions.spelling_fixes(engine, target, off) == []


def test_the_margin_is_the_models_preference(engine):
    chosen = spelling.fixes(engine, TYPOS, Span(0, len(TYPOS)), "python", -100.0)
    assert {f.old: f.new for f in chosen} == {"vaules": "values", "retrun": "return", "dicsount": "discount"}
    top = max(f.gain for f in chosen)
    assert spelling.fixes(engine, TYPOS, Span(0, len(TYPOS)), "python", top + 0.01) == []
    assert 0.5 < spelling.confidence(chosen) <= 1.0


@pytest.mark.slow
def test_cli_repair_prints_the_spelling_fixes(tmp_path):
    args = [sys.executable, "-m", "lsp_server.cli", "infill", str(ROOT / "examples" / "typos.py"),
            "--range", "1:1-19:1", "--repair", "--diff"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert "+    return values\n" in done.stdout and "+        amount -= amount * discount\n" in done.stdout
    assert "spelling: vaules -> values" in done.stderr
    off = subprocess.run([*args, "--no-spelling"], capture_output=True, text=True, timeout=300, check=True)
    assert "spelling:" not in off.stderr


@pytest.mark.slow
def test_convert_repair_writes_the_spelling_fixes(tmp_path):
    from lsp_server.cli.main import main

    (tmp_path / "typos.py").write_text(TYPOS)
    assert main(["convert", str(tmp_path), "--repair", "--write"]) == 0
    after = (tmp_path / "typos.py").read_text()
    assert "return values" in after and "amount * discount" in after and "vaules" not in after
