"""Training rows that teach the model to read edit history (next-edit suggestions, lsp_server/next_edits.py).

From a real source file: one consistent change (model/edit_changes.py: rename, literal, call arguments, `await`,
wrapping, a removed parameter) is applied at one or two of its places (the user's recent edits), shown as
`# edit: old -> new` comment lines above a hole at another of its places, whose truth is the changed text. In a
share of rows the hole is at a place of the same shape that the change does not concern (another identifier,
literal or call), whose truth stays as it is, so following the history everywhere is wrong too. The rest of the
file is left as it was: the user has not got there yet.
"""

from __future__ import annotations

import random

from model.edit_changes import KINDS, find_change
from model.edit_history import note_above, render_edits
from model.examples import InfillLayout, choose_budget, layout_infill
from model.tokenizer import CodeTokenizer

NEGATIVE_SHARE = 0.3
_COMMENTS = {"python": "#", "lua": "--"}


def edit_example(
    tok: CodeTokenizer, text: str, language: str, seq_len: int, rng: random.Random
) -> InfillLayout | None:
    """One infill row with edit history above its hole; None when the file has no change of any kind (the kinds
    are tried in a random order, so a file without calls still gives a rename)."""
    change = None
    for kind in rng.sample(KINDS, len(KINDS)):
        if (change := find_change(text, kind, language, rng)) is not None:
            break
    if change is None:
        return None
    lead, rest = list(change.places[: change.lead]), list(change.places[change.lead :])
    if not rest:
        return None
    rng.shuffle(rest)
    k = rng.randint(0, min(1, len(rest) - 1)) if lead else rng.randint(1, min(2, len(rest) - 1))
    done, todo = lead + rest[:k], rest[k:]
    target = rng.choice(todo)
    hole, truth = (target.start, target.end), target.new
    if rng.random() < NEGATIVE_SHARE:  # a place the change does not concern: it stays as it is
        if not change.others:
            return None
        hole = rng.choice(change.others)
        truth = text[hole[0] : hole[1]]
    notes = render_edits([(text[p.start : p.end], p.new) for p in done], _COMMENTS.get(language, "//"), limit=len(done))
    changed = text
    for p in sorted(done, key=lambda p: -p.start):  # the places the user already changed
        changed = changed[: p.start] + p.new + changed[p.end :]
        if p.start < hole[0]:
            shift = len(p.new) - (p.end - p.start)
            hole = (hole[0] + shift, hole[1] + shift)
    prefix = note_above(changed[: hole[0]], notes)
    budget = choose_budget(len(tok.encode(truth)), rng)
    return layout_infill(tok, prefix, truth, changed[hole[1] :], budget, seq_len, prefix_share=rng.uniform(0.4, 0.8))
