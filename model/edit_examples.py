"""Training rows that teach the model to read edit history (next-edit suggestions, lsp_server/next_edits.py).

From a real source file: one consistent change is applied at one or two places of a kind (the user's recent
edits), shown as `# edit: old -> new` comment lines above a hole at another place of that kind, whose truth is
the changed text. In a share of rows the hole is at a place the change does not concern (another identifier or
literal), whose truth stays as it is, so following the history everywhere is wrong too. The rest of the file is
left as it was: the user has not got there yet.

Kinds: `rename` (an identifier used at least 3 times gets a new name) and `literal` (a string literal used at
least twice gets a new text). Call arguments, wrapping a call, adding a keyword and call sites after a signature
change are still to come.
"""

from __future__ import annotations

import keyword
import random
import re

from model.edit_history import note_above, render_edits
from model.examples import InfillLayout, choose_budget, layout_infill
from model.syntax import parser_for
from model.tokenizer import CodeTokenizer

KINDS = ("rename", "literal")
NEGATIVE_SHARE = 0.3
_IDENT = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]{2,})(?![\w])")
_LITERAL = re.compile(r"\"[^\"\\\n]{2,24}\"|'[^'\\\n]{2,24}'")
_COMMENTS = {"python": "#", "lua": "--"}
SUFFIXES = ("_all", "_list", "_count", "_value", "s", "_new", "2", "_id", "_map", "_total")
PREFIXES = ("new_", "get_", "raw_", "old_", "is_", "max_", "the_")


def new_name(old: str, rng: random.Random) -> str:
    """A plausible new name: a suffix or prefix, a snake/camel case swap, or a shortened word."""
    roll = rng.random()
    if roll < 0.35:
        return old + rng.choice(SUFFIXES)
    if roll < 0.6:
        return rng.choice(PREFIXES) + old
    if roll < 0.8 and "_" in old.strip("_"):
        head, *rest = old.split("_")
        return head + "".join(w.title() for w in rest)
    if roll < 0.8:
        return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), old) + "_"
    return old[: max(3, len(old) // 2)] if len(old) > 5 else old + "_v2"


def new_literal(old: str, rng: random.Random) -> str:
    quote, body = old[0], old[1:-1]
    roll = rng.random()
    if roll < 0.3:
        body = body.upper() if body != body.upper() else body.lower()
    elif roll < 0.55 and ("_" in body or "-" in body):
        body = body.replace("_", "-") if "_" in body else body.replace("-", "_")
    elif roll < 0.8:
        body = body + rng.choice(("_v2", ".new", "-1", "s", ":"))
    else:
        body = rng.choice(("new ", "x-", "_")) + body
    return quote + body + quote


def _occurrences(
    text: str, pattern: re.Pattern, minimum: int, language: str | None = None
) -> dict[str, list[tuple[int, int]]]:
    """{text: spans} of the matches used at least `minimum` times. Identifiers come from the syntax tree where
    there is a grammar (a word in a comment or a docstring is not a use of a name)."""
    found: dict[str, list[tuple[int, int]]] = {}
    names = _identifiers(text, language) if pattern is _IDENT else None
    spans = names if names is not None else [(m.start(), m.end()) for m in pattern.finditer(text)]
    for a, b in spans:
        word = text[a:b]
        if word.isidentifier() and (keyword.iskeyword(word) or word in ("self", "cls") or len(word) < 3):
            continue
        found.setdefault(word, []).append((a, b))
    return {w: spots for w, spots in found.items() if len(spots) >= minimum}


def _identifiers(text: str, language: str | None) -> list[tuple[int, int]] | None:
    """Spans of identifier nodes (None without a grammar, or for non-ASCII text, where bytes and characters
    part ways)."""
    parser = parser_for(language) if language else None
    if parser is None or not text.isascii():
        return None
    out, stack = [], [parser.parse(text.encode()).root_node]
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            out.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.children)
    return sorted(out)


def pick_change(
    text: str, kind: str, language: str | None, rng: random.Random
) -> tuple[str, str, dict[str, list[tuple[int, int]]]] | None:
    """(old, new, {text: places}) of one consistent change of `kind` in `text`: the text to change, what it
    becomes, and the places of every candidate text (the old one's in file order). A literal's text is what
    stands between its quotes: that is what the user edits. None when the file has nothing of that kind."""
    pattern, minimum = (_IDENT, 3) if kind == "rename" else (_LITERAL, 2)
    found = _occurrences(text, pattern, minimum, language)
    if not found:
        return None
    old = rng.choice(sorted(found))
    new = new_name(old, rng) if kind == "rename" else new_literal(old, rng)
    if new == old:
        return None
    if kind == "literal":
        old, new = old[1:-1], new[1:-1]
        found = {w[1:-1]: [(a + 1, b - 1) for a, b in ss] for w, ss in found.items()}
    return old, new, found


def edit_example(
    tok: CodeTokenizer, text: str, language: str, seq_len: int, rng: random.Random
) -> InfillLayout | None:
    """One infill row with edit history above its hole; None when the file has nothing of the chosen kind."""
    change = pick_change(text, rng.choice(KINDS), language, rng)
    if change is None:
        return None
    old, new, found = change
    spots = list(found[old])
    rng.shuffle(spots)
    k = rng.randint(1, min(2, len(spots) - 1))
    done, rest = spots[:k], spots[k:]
    hole = rng.choice(rest)
    truth = new
    if rng.random() < NEGATIVE_SHARE:  # a place the change does not concern: it stays as it is
        others = [s for w, ss in found.items() if w != old for s in ss]
        if not others:
            return None
        hole = rng.choice(others)
        truth = text[hole[0] : hole[1]]
    changed = text
    for a, b in sorted(done, reverse=True):  # the places the user already changed
        changed = changed[:a] + new + changed[b:]
        if a < hole[0]:
            hole = (hole[0] + len(new) - (b - a), hole[1] + len(new) - (b - a))
    notes = render_edits([(old, new)] * len(done), _COMMENTS.get(language, "//"), limit=len(done))
    prefix = note_above(changed[: hole[0]], notes)
    budget = choose_budget(len(tok.encode(truth)), rng)
    return layout_infill(tok, prefix, truth, changed[hole[1] :], budget, seq_len, prefix_share=rng.uniform(0.4, 0.8))
