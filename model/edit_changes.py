"""Consistent changes found in a real source file: the same edit due at several places.

Training rows for next edits (model/edit_examples.py) and the `eval --next-edit` scenarios
(lsp_server/cli/eval_next_edits.py) are both cut from these. Each kind yields the places to change, in file order, and
the spans of the same shape that the change does not concern (a training row's negative: left as it is).

Kinds:
- `rename`: an identifier used at least 3 times gets a new name;
- `literal`: the text of a string literal used at least twice changes;
- `call_args`: every call of a function called at least 3 times gets the same new keyword argument;
- `keyword`: a function defined in the file and called at least twice becomes async: `await` before each call;
- `wrap`: an expression used at least 3 times (an attribute chain, a short call) is wrapped in a call;
- `signature`: a function loses a parameter; its call sites lose the argument. The definition is the user's part
  (`lead`), the call sites are the places to follow;
- `siblings`: single-line statements of one shape in a block (model/shapes.py) get the same edit at the same
  token positions: a method call or a fallback added to the value, an operator or a constant flipped, a comment.
"""

from __future__ import annotations

import keyword
import random
import re
from dataclasses import dataclass

from model import shapes
from model.calls import Call, call_at, calls_by_name, param_names, without_item
from model.syntax import parser_for

KINDS = ("rename", "literal", "call_args", "keyword", "wrap", "signature", "siblings")
_IDENT = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]{2,})(?![\w])")
# Every literal on a line is matched whole (the text between two literals is not one); short and long ones are
# dropped after.
_LITERAL = re.compile(r"\"[^\"\\\n]*\"|'[^'\\\n]*'")
_CALLEE = re.compile(r"(?<![\w])([A-Za-z_]\w{2,})\s*\(")
_CHAIN = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w.(])")
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)
_ASSIGNED = re.compile(r"[ \t]*(?:[-+*/%|&^]|//|\*\*|<<|>>)?=(?!=)")
SUFFIXES = ("_all", "_list", "_count", "_value", "s", "_new", "2", "_id", "_map", "_total")
PREFIXES = ("new_", "get_", "raw_", "old_", "is_", "max_", "the_")
NEW_ARGUMENTS = ("timeout=30", "strict=True", "default=None", "verbose=False", "check=True", "encoding=\"utf-8\"",
                 "copy=False", "retries=3", "key=None", "force=True", "limit=100", "dry_run=False")
WRAPPERS = ("list", "str", "len", "sorted", "tuple", "int", "repr", "bool", "float", "set", "abs", "id")
NOT_CALLS = set(keyword.kwlist) | {"print", "self", "cls", "super"}


@dataclass(frozen=True)
class Place:
    start: int
    end: int
    new: str  # what text[start:end] becomes


@dataclass(frozen=True)
class Change:
    kind: str
    places: tuple[Place, ...]  # file order, except that the `lead` places come first
    others: tuple[tuple[int, int], ...]  # spans of the same shape the change does not concern
    lead: int = 0  # places always in the user's part (a signature change's definition)


def _change(kind: str, places, others, lead: int = 0) -> Change | None:
    """A Change whose places do not overlap one another (a call nested in a call of the same function keeps the
    outer one) and whose other spans overlap no place; None when fewer than two places are left."""
    kept: list[Place] = []
    for p in places:
        if all(p.end <= q.start or p.start >= q.end for q in kept):
            kept.append(p)
    clear = tuple(o for o in others if all(o[1] <= q.start or o[0] >= q.end for q in kept))
    return Change(kind, tuple(kept), clear, lead) if len(kept) >= 2 else None


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


def find_change(text: str, kind: str, language: str | None, rng: random.Random) -> Change | None:
    """One consistent change of `kind` in `text`, chosen with `rng`; None when the file has nothing of that kind.
    The structural kinds (calls, `await`, wrapping, signatures) are read as Python."""
    if kind in ("call_args", "keyword", "wrap", "signature", "siblings") and language not in (None, "python"):
        return None
    change = _FINDERS[kind](text, language, rng)
    if change is None or not _keeps_parsing(text, change, language or "python"):
        return None
    return change


def _keeps_parsing(text: str, change: Change, language: str) -> bool:
    """A change to teach or to expect must not break a file that parsed (`from m import A or None`): the server
    never offers such an edit (lsp_server/next_edits.keeps_syntax)."""
    parser = parser_for(language)
    if parser is None or parser.parse(text.encode()).root_node.has_error:
        return True
    after = text
    for p in sorted(change.places, key=lambda p: -p.start):
        after = after[: p.start] + p.new + after[p.end :]
    return not parser.parse(after.encode()).root_node.has_error


# --- names and literals ---------------------------------------------------------------------------------------
def _rename(text: str, language: str | None, rng: random.Random) -> Change | None:
    found = _occurrences(text, _IDENT, 3, language)
    if not found:
        return None
    old = rng.choice(sorted(found))
    new = new_name(old, rng)
    if new == old:
        return None
    others = tuple(s for w, ss in found.items() if w != old for s in ss)
    return _change("rename", [Place(a, b, new) for a, b in found[old]], others)


def _literal(text: str, language: str | None, rng: random.Random) -> Change | None:
    """What stands between the quotes changes: that is what the user edits."""
    found = {w: ss for w, ss in _occurrences(text, _LITERAL, 2, language).items() if 2 <= len(w) - 2 <= 24}
    if not found:
        return None
    old = rng.choice(sorted(found))
    new = new_literal(old, rng)[1:-1]
    if new == old[1:-1]:
        return None
    others = tuple((a + 1, b - 1) for w, ss in found.items() if w != old for a, b in ss)
    return _change("literal", [Place(a + 1, b - 1, new) for a, b in found[old]], others)


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


# --- calls ----------------------------------------------------------------------------------------------------
def _calls_by_name(text: str, minimum: int) -> dict[str, list[Call]]:
    counts: dict[str, int] = {}
    for m in _CALLEE.finditer(text):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    every = calls_by_name(text)
    out = {}
    for name, n in counts.items():
        if n >= minimum and name not in NOT_CALLS:
            calls = every.get(name, [])
            if len(calls) >= minimum:
                out[name] = calls
    return out


def with_argument(text: str, call: Call, arg: str) -> str:
    """The call's text with `arg` added after its last argument."""
    if not call.args:
        return text[call.start : call.open + 1] + arg + text[call.open + 1 : call.end]
    last = call.args[-1][1]
    return text[call.start : last] + ", " + arg + text[last : call.end]


def _call_args(text: str, language: str | None, rng: random.Random) -> Change | None:
    by_name = _calls_by_name(text, 3)
    if not by_name:
        return None
    name = rng.choice(sorted(by_name))
    arg = rng.choice(NEW_ARGUMENTS)
    key = arg.split("=")[0]
    places = [
        Place(c.start, c.end, with_argument(text, c, arg))
        for c in by_name[name]
        if not any(text[a:b].startswith(key + "=") for a, b in c.args)
    ]
    others = [(c.start, c.end) for n, cs in by_name.items() if n != name for c in cs]
    return _change("call_args", places, others)


def _bare(text: str, call: Call) -> bool:
    """A call of a plain name, not a method call nor one already awaited."""
    before = text[max(0, call.start - 6) : call.start]
    return not before.endswith(".") and not before.endswith("await ")


def _keyword(text: str, language: str | None, rng: random.Random) -> Change | None:
    defined = set(_DEF.findall(text))
    by_name = {
        n: [c for c in cs if _bare(text, c)] for n, cs in _calls_by_name(text, 2).items() if n in defined
    }
    by_name = {n: cs for n, cs in by_name.items() if len(cs) >= 2}
    if not by_name:
        return None
    name = rng.choice(sorted(by_name))
    places = [Place(c.start, c.start + len(name), "await " + name) for c in by_name[name]]
    others = (
        (c.start, c.start + len(n))
        for n, cs in _calls_by_name(text, 1).items()
        if n != name
        for c in cs
        if _bare(text, c)
    )
    return _change("keyword", places, others)


def _wrap(text: str, language: str | None, rng: random.Random) -> Change | None:
    found: dict[str, list[tuple[int, int]]] = {}
    for m in _CHAIN.finditer(text):
        if _ASSIGNED.match(text, m.end()):  # an assignment's target is not an expression to wrap
            continue
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()].lstrip()
        if line.startswith(("import ", "from ", "def ", "class ", "@", "#", "del ")):
            continue
        found.setdefault(m.group(1), []).append(m.span())
    found = {w: ss for w, ss in found.items() if len(ss) >= 3}
    if not found:
        return None
    expr = rng.choice(sorted(found))
    wrapper = rng.choice(WRAPPERS)
    places = [Place(a, b, f"{wrapper}({expr})") for a, b in found[expr]]
    others = [s for w, ss in found.items() if w != expr for s in ss]
    return _change("wrap", places, others)


# --- signatures -----------------------------------------------------------------------------------------------
def site_without(text: str, call: Call, params: list[str], index: int) -> Place | None:
    """A call site of a function that lost parameter `index` of `params`, without that argument: passed by
    keyword (`name=`), or by position among the positional arguments before any keyword. None when the call does
    not pass it or cannot be read that way (a star argument, more arguments than parameters)."""
    method = bool(params) and params[0] in ("self", "cls") and text[call.start - 1 : call.start] == "."
    at = index - (1 if method else 0)
    args = [text[a:b] for a, b in call.args]
    if at < 0 or any(a.startswith("*") for a in args) or len(args) > len(params) - (1 if method else 0):
        return None
    named = [bool(re.match(r"[A-Za-z_]\w*\s*=(?!=)", a)) for a in args]
    positional = named.index(True) if True in named else len(args)
    if at >= positional:
        at = next((j for j, a in enumerate(args) if re.match(rf"{re.escape(params[index])}\s*=(?!=)", a)), -1)
        if at < 0:
            return None
    lo, hi = without_item(text, call.args, at)
    return Place(call.start, call.end, text[call.start : lo] + text[hi : call.end])


def _signature(text: str, language: str | None, rng: random.Random) -> Change | None:
    options = []
    every = calls_by_name(text)
    for m in _DEF.finditer(text):
        name = m.group(1)
        head = call_at(text, m.start(1), name)
        if head is None:
            continue
        params = param_names(text, head)
        if any(text[a:b].startswith("*") for a, b in head.args):
            continue
        calls = every.get(name, [])
        for i, p in enumerate(params):
            if p in ("self", "cls"):
                continue
            sites = [s for c in calls if (s := site_without(text, c, params, i)) is not None]
            if sites:
                options.append((head, i, sites, name))
    if not options:
        return None
    head, i, sites, name = rng.choice(options)
    lo, hi = without_item(text, head.args, i)
    definition = Place(head.start, head.end, text[head.start : lo] + text[hi : head.end])
    others = [(c.start, c.end) for n, cs in _calls_by_name(text, 1).items() if n != name for c in cs]
    return _change("signature", [definition, *sites], others, lead=1)


# --- sibling statements -----------------------------------------------------------------------------------------
APPENDED = (".strip()", ".lower()", ".copy()", " or None", "[0]", ".get()")
FLIPPED = {"==": "!=", "!=": "==", "<": "<=", ">": ">=", "+": "-", "-": "+", "True": "False", "False": "True",
           "and": "or", "or": "and", "+=": "-=", "None": "0"}


def _siblings(text: str, language: str | None, rng: random.Random) -> Change | None:
    groups = _shape_groups(text, language or "python")
    if not groups:
        return None
    group, rest = rng.choice(groups)
    first = text[group[0][0] : group[0][1]]
    tokens = shapes.leaves(first, language or "python")
    edits = [(len(first), len(first), "  # " + rng.choice(("noqa", "checked", "TODO: validate")))]
    if tokens[-1][0] in ("identifier", ")", "]"):
        edits.append((len(first), len(first), rng.choice(APPENDED)))
    edits += [(s, e, FLIPPED[t]) for t, s, e in tokens if t in FLIPPED and first[s:e] == t]
    start, end, new = rng.choice(edits)
    places = []
    for a, b in group:
        carried = shapes.carry(first, start, end, new, text[a:b], language or "python")
        if carried is not None and carried != text[a:b]:
            places.append(Place(a, b, carried))
    return _change("siblings", places, rest) if len(places) >= 3 else None


def _shape_groups(text: str, language: str) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """([spans of 3 or more single-line statements of one shape in one block], [the block's other single-line
    statements]) for every such group in the file."""
    parser = parser_for(language)
    if parser is None or not text.isascii():
        return []
    out, stack = [], [parser.parse(text.encode()).root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.named_children)
        if node.type not in ("module", "block"):
            continue
        by_shape: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        lines = [c for c in node.named_children if c.start_point[0] == c.end_point[0] and c.type != "comment"]
        for c in lines:
            a, b = shapes.line_of(text, c)
            tokens = shapes.leaves(text[a:b], language)
            if tokens and len(tokens) >= 3:
                by_shape.setdefault(tuple(t for t, _, _ in tokens), []).append((a, b))
        for spans in by_shape.values():
            if len(spans) >= 3:
                rest = [span for c in lines if (span := shapes.line_of(text, c)) not in spans]
                out.append((spans, rest))
    return out


_FINDERS = {
    "rename": _rename,
    "literal": _literal,
    "call_args": _call_args,
    "keyword": _keyword,
    "wrap": _wrap,
    "signature": _signature,
    "siblings": _siblings,
}
