"""Training rows with edit history (next edits): the change shown above the hole, the truth the changed text."""

from __future__ import annotations

import random
import re

from model import edit_examples
from model.engine import DEFAULT_CHECKPOINT
from model.tokenizer import CodeTokenizer

SOURCE = '''import os


def load(path, mode="rb"):
    handle = open(path, mode, encoding="utf8")
    data = handle.read()
    handle.close()
    return data


def save(path, data, mode="wb"):
    handle = open(path, mode, encoding="utf8")
    handle.write(data)
    handle.close()
    return len(data)
'''


def _rows(n: int, seed: int = 0):
    tok = CodeTokenizer.load(DEFAULT_CHECKPOINT)
    rng = random.Random(seed)
    rows = [edit_examples.edit_example(tok, SOURCE, "python", 384, rng) for _ in range(n)]
    return tok, [r for r in rows if r is not None]


def test_rows_show_the_edit_above_the_hole_and_train_the_changed_text():
    tok, rows = _rows(60)
    assert len(rows) >= 30
    positives = negatives = 0
    for row in rows:
        before = tok.decode(row.ids[: row.span_start])
        truth = tok.decode(row.ids[row.span_start : row.span_start + row.truth_len])
        note = re.findall(r"# edit: (.+?) -> (.+)\n[ \t]*[^\n]*$", before)
        assert note, before[-200:]  # the history sits on the lines right above the hole's line
        old, new = note[-1]
        assert old in SOURCE and old != new
        if truth == new:
            positives += 1
            assert new in before or len(re.findall(rf"\b{re.escape(old)}\b", SOURCE)) >= 2  # done elsewhere already
        else:
            negatives += 1
            assert truth in SOURCE and truth != old  # another place, left as it is
        assert all(t == tok.special.pad for t in row.ids[row.span_start + row.truth_len : row.span_start + row.budget])
    assert positives > negatives > 0
    literal_edits = [r for r in rows if "# edit: utf8 -> " in tok.decode(r.ids[: r.span_start])]
    assert literal_edits  # the text inside the quotes, changed at one place, shown above another


def test_new_names_and_literals_differ_from_the_old():
    rng = random.Random(1)
    assert all(edit_examples.new_name("handle", rng) != "handle" for _ in range(50))
    assert all(edit_examples.new_literal('"rb"', rng) != '"rb"' for _ in range(50))
