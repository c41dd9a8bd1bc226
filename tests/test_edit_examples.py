"""Training rows with edit history (next edits): the change shown above the hole, the truth the changed text."""

from __future__ import annotations

import ast
import os
import random
import re

import pytest
from fixtures.edit_source import SOURCE

from model import edit_changes, edit_examples
from model.calls import calls_by_name, calls_of, defined_at, split_args
from model.engine import DEFAULT_CHECKPOINT
from model.tokenizer import CodeTokenizer


def _rows(n: int, seed: int = 0):
    tok = CodeTokenizer.load(DEFAULT_CHECKPOINT)
    rng = random.Random(seed)
    rows = [edit_examples.edit_example(tok, SOURCE, "python", 384, rng) for _ in range(n)]
    return tok, [r for r in rows if r is not None]


def _arity(call: str) -> int:
    return len(split_args(call, call.index("(") + 1, len(call) - 1))


def _inserted(old: str, new: str) -> tuple[str, str]:
    """(removed, inserted) text of the one edit between two strings."""
    head = len(os.path.commonprefix([old, new]))
    tail = len(os.path.commonprefix([old[head:][::-1], new[head:][::-1]]))
    return old[head : len(old) - tail], new[head : len(new) - tail]


def _applied(text: str, places) -> str:
    for p in sorted(places, key=lambda p: -p.start):
        text = text[: p.start] + p.new + text[p.end :]
    return text


@pytest.mark.parametrize("kind", edit_changes.KINDS)
def test_each_kind_changes_every_place_the_same_way_and_the_file_still_parses(kind):
    changes = [edit_changes.find_change(SOURCE, kind, "python", random.Random(seed)) for seed in range(20)]
    changes = [c for c in changes if c is not None]
    assert changes, kind
    for change in changes:
        assert len(change.places) >= 2 and change.kind == kind
        olds = [SOURCE[p.start : p.end] for p in change.places]
        assert all(p.new != old for p, old in zip(change.places, olds))
        ast.parse(_applied(SOURCE, change.places))  # the whole change done: still Python
        for a, b in change.others:  # the places the change does not concern are not among its places
            assert all(b <= p.start or a >= p.end for p in change.places)
        if kind == "call_args":
            added = {p.new[len(old) - 1 : -1] for p, old in zip(change.places, olds) if old.endswith(")")}
            assert len({re.sub(r"^\(|^, ", "", a) for a in added}) == 1  # one argument, added everywhere
        if kind == "keyword":
            assert all(p.new == "await " + old for p, old in zip(change.places, olds))
        if kind == "wrap":
            assert all(re.fullmatch(rf"\w+\({re.escape(old)}\)", p.new) for p, old in zip(change.places, olds))
        if kind == "siblings":
            assert len({_inserted(old, p.new) for p, old in zip(change.places, olds)}) == 1  # the same edit each time
        if kind == "signature":
            definition = change.places[0]
            assert change.lead == 1 and SOURCE[: definition.start].endswith("def ")
            assert _arity(definition.new) == _arity(olds[0]) - 1
            for site, old in zip(change.places[1:], olds[1:]):
                assert _arity(site.new) == _arity(old) - 1  # the call lost one argument


def test_rows_show_the_edit_above_the_hole_and_train_the_changed_text():
    tok, rows = _rows(80)
    assert len(rows) >= 60  # the kinds are tried in turn: this file always has one
    positives = negatives = 0
    kinds_seen = set()
    for row in rows:
        before = tok.decode(row.ids[: row.span_start])
        truth = tok.decode(row.ids[row.span_start : row.span_start + row.truth_len])
        notes = re.findall(r"# edit: (.+?) -> (.+)\n", before)
        assert notes and re.search(r"# edit: .+\n[ \t]*[^\n]*$", before), before[-200:]  # right above the hole
        old, new = notes[-1]
        assert old != new
        if truth == new or (truth != old and truth not in SOURCE):
            positives += 1
        else:
            negatives += 1
            assert truth in SOURCE  # another place, left as it is
        if new.startswith("await "):
            kinds_seen.add("keyword")
        if re.search(r"\w+=\S+\)$", new) and not re.search(r"\w+=\S+\)$", old):
            kinds_seen.add("call_args")
        assert all(t == tok.special.pad for t in row.ids[row.span_start + row.truth_len : row.span_start + row.budget])
    assert positives > negatives > 0
    assert kinds_seen == {"keyword", "call_args"}


def test_new_names_and_literals_differ_from_the_old():
    rng = random.Random(1)
    assert all(edit_changes.new_name("handle", rng) != "handle" for _ in range(50))
    assert all(edit_changes.new_literal('"rb"', rng) != '"rb"' for _ in range(50))


def test_a_name_being_defined_is_not_one_of_its_calls():
    text = "def load(path):\n    pass\n\nfunction load(x) {}\nfn load(a: i32) {}\n"
    text += "load(1)\nx.load(2)\nclass load(Base):\n"
    assert [text[c.start : c.open] for c in calls_of(text, "load")] == ["load", "load"]
    assert [c.start for c in calls_of(text, "load")] == [text.index("load(1)"), text.index("load(2)")]
    at = text.index("load(path)")
    assert defined_at(text, at) and defined_at(text, at, ("def",))
    assert not defined_at(text, text.index("load(Base)"), ("def",)) and defined_at(text, text.index("load(Base)"))
    assert not defined_at("undefined load()", len("undefined "))  # a keyword inside another word does not count


def test_one_scan_finds_the_calls_that_a_scan_per_name_finds():
    """Training reads every call of a file through `calls_by_name`; it must agree with `calls_of` name by name
    (method calls, blanks before the parenthesis, a definition, a name inside a longer one, an unclosed call)."""
    text = SOURCE + "\nx.load (1)\nreload(2)\nload_all(3)\ndef load(p):\n    pass\nopen(\n"
    every = calls_by_name(text)
    names = set(re.findall(r"\w+", text))
    assert every == {n: calls_of(text, n) for n in names if calls_of(text, n)}
    assert "load (1)" in [text[c.start : c.end] for c in every["load"]]
    assert "reload" in every and "load_all" in every
    assert text.rindex("open(") not in [c.start for c in every.get("open", [])]  # never closed
