"""Edit history and next-edit candidates without the server; the model's judgement on the real embedded model."""

from __future__ import annotations

import random

import pytest
from fixtures.edit_source import SOURCE

from lsp_server import next_edits
from lsp_server.cli import eval_next_edits
from lsp_server.history import History
from lsp_server.spans import Span
from model.edit_history import render_edits

CODE = "def total(values):\n    return sum(values)\n\n\nprint(total([1]))\nx = total(y) + subtotal(z)\n"


def _type(history: History, text: str, at: int, chars: str, t0: float = 0.0) -> str:
    for i, ch in enumerate(chars):
        history.record(text, at + i, at + i, ch, now=t0 + 0.1 * i)
        text = text[: at + i] + ch + text[at + i :]
    return text


def test_keystrokes_coalesce_into_one_hunk_and_older_hunks_follow():
    h = History()
    at = CODE.index("total")
    text = _type(h, CODE, at + 5, "_sum")
    assert len(h.hunks) == 1 and (h.hunks[0].old, h.hunks[0].new) == ("", "_sum") and h.matches(text)
    # A backspace inside the hunk shrinks it; a change elsewhere later starts a new hunk.
    h.record(text, at + 8, at + 9, "", now=0.5)
    text = text[: at + 8] + text[at + 9 :]
    assert h.hunks[0].new == "_su"
    head = text.index("print")
    h.record(text, 0, 0, "# a\n", now=10.0)
    text = "# a\n" + text
    assert len(h.hunks) == 2 and h.hunks[0].start == at + 5 + 4 and h.matches(text)
    assert text[head + 4 :].startswith("print")
    # A whole change over an older hunk drops it: its text no longer lines up.
    h.record(text, at + 4, at + 12, "sum_all", now=20.0)
    assert all(hk.new != "_su" for hk in h.hunks)
    h.clear()
    assert h.last() is None


def test_a_pause_splits_hunks_and_a_huge_paste_is_not_history():
    h = History()
    text = _type(h, "a = 1\n", 0, "b", t0=0)
    _type(h, text, 1, "c", t0=5)  # more than MERGE_S later
    assert [hk.new for hk in h.hunks] == ["b", "c"]
    h.record("", 0, 0, "x" * 5000, now=9)
    assert [hk.new for hk in h.hunks] == ["b", "c"]


def test_a_rename_finds_the_other_whole_word_uses_nearest_first():
    h = History()
    at = CODE.index("total")
    text = _type(h, CODE, at + 5, "_sum")
    assert next_edits.renamed(text, h.last()) == ("total", "total_sum", Span(at, at + 9))
    found = next_edits.candidates(text, h.last(), cursor=len(text))
    assert [text[c.span.start : c.span.end] for c in found] == ["total", "total"]
    assert all(c.new == "total_sum" for c in found)
    assert found[0].span.start > found[1].span.start  # the one nearest the cursor (end of file) first
    assert "subtotal" in text  # not a whole-word use: not a candidate


def test_a_replaced_literal_finds_its_other_occurrences_and_render_shows_the_edit():
    text = 'a = "utf8"\nb = "utf8"\n'
    h = History()
    h.record(text, 5, 9, "utf-8", now=0)
    text = text[:5] + "utf-8" + text[9:]
    found = next_edits.candidates(text, h.last(), cursor=0)
    assert [(c.old, c.new, text[c.span.start : c.span.end]) for c in found] == [("utf8", "utf-8", "utf8")]
    assert render_edits([(hk.old, hk.new) for hk in h.hunks], "#") == "# edit: utf8 -> utf-8\n"
    pairs = next_edits.shown_edits(text, h.hunks)
    assert next_edits.with_history("x = 1\n    y = ", pairs, "python") == "x = 1\n    # edit: utf8 -> utf-8\n    y = "


def test_a_typed_rename_is_shown_to_the_model_as_whole_names():
    h = History()
    text = _type(h, CODE, CODE.index("total") + 5, "_sum")
    assert next_edits.shown_edits(text, h.hunks) == [("total", "total_sum")]


STRUCTURE = """def area(width, height, depth):
    return width * height


async def fetch(url):
    return url


def main(items):
    print(area(1, 2, 3), area(4, 5, depth=6))
    result = fetch("a") or fetch("b")
    urls = map(fetch, items)
    send(items.first, timeout=1)
    send(items.first)
    send()
    return len(items.first)
"""


def _edit(h: History, text: str, start: int, end: int, new: str, now: float = 0.0) -> str:
    h.record(text, start, end, new, now=now)
    return text[:start] + new + text[end:]


def _suggested(text: str, found) -> list[tuple[str, str]]:
    """Each candidate as its minimal edit: (the text it replaces, the new text)."""
    out = []
    for c in found:
        span, new = next_edits.minimal(text, c.span, c.new)
        out.append((text[span.start : span.end], new))
    return out


def test_a_removed_parameter_drops_the_argument_at_each_call_site():
    h = History()
    at = STRUCTURE.index("height, depth")
    text = _type(h, STRUCTURE, at, "")  # nothing typed yet
    for i in range(len("height, ")):  # backspaced away, key by key
        text = _edit(h, text, at + len("height, ") - 1 - i, at + len("height, ") - i, "", now=0.1 * i)
    assert text.startswith("def area(width, depth):")
    found = next_edits.candidates(text, h.last(), cursor=at)
    new_calls = sorted(c.new for c in found)
    assert new_calls == ["area(1, 3)", "area(4, depth=6)"]  # by position, and a keyword one kept by name
    assert next_edits.shown_edits(text, h.hunks) == [("area(width, height, depth)", "area(width, depth)")]


def test_an_argument_added_to_one_call_is_offered_to_the_other_calls():
    h = History()
    at = STRUCTURE.index("send(items.first)") + len("send(items.first")
    text = _type(h, STRUCTURE, at, ", retries=2")
    found = next_edits.candidates(text, h.last(), cursor=at)
    # The call that already passes a `timeout` still gets `retries`; the empty call gets it without a comma.
    assert sorted(_suggested(text, found)) == [("", ", retries=2"), ("", "retries=2")]
    assert next_edits.shown_edits(text, h.hunks) == [("send(items.first)", "send(items.first, retries=2)")]


def test_await_put_before_one_call_is_offered_before_the_others_not_the_definition():
    h = History()
    at = STRUCTURE.index('fetch("a")')
    text = _type(h, STRUCTURE, at, "await ")
    found = next_edits.candidates(text, h.last(), cursor=at)
    # fetch("b"); `def fetch` is not a use, nor `map(fetch, items)`, which passes the function and does not call it
    assert [(c.old, c.new) for c in found] == [("fetch", "await fetch")]
    assert _suggested(text, found) == [("", "await ")]


def test_a_wrapped_expression_is_offered_where_the_same_expression_stands_unwrapped():
    h = History()
    at = STRUCTURE.index("items.first, timeout")
    text = _edit(h, STRUCTURE, at, at + len("items.first"), "list(items.first)")
    found = next_edits.candidates(text, h.last(), cursor=at)
    # `len(items.first)` and the one in the other send(...) call; the wrapped one itself is done.
    assert len(found) == 2 and all(c.new == "list(items.first)" for c in found)


def test_a_changed_string_is_offered_inside_quotes_only():
    text = 'mode = "fast"\nfast = 1\nuse("fast", fast)\n'
    h = History()
    text = _edit(h, text, 8, 12, "quick")
    found = next_edits.candidates(text, h.last(), cursor=0)
    assert [text[c.span.start - 1 : c.span.end + 1] for c in found] == ['"fast"']  # not the name `fast`


def test_an_edit_to_one_statement_is_offered_to_its_siblings_of_the_same_shape():
    text = "def parse(row):\n    a = row[0]\n    b = row[1]\n    c = row['c']\n    d = len(row)\n    return a, b, c\n"
    h = History()
    at = text.index("row[0]") + len("row[0]")
    text = _type(h, text, at, ".strip()")
    found = next_edits.candidates(text, h.last(), cursor=at)
    # `b = row[1]` and `c = row['c']` read as the same tokens up to the literal's type: only b has the shape.
    assert [(c.old, c.new) for c in found] == [("b = row[1]", "b = row[1].strip()")]
    assert _suggested(text, found) == [("", ".strip()")]
    assert next_edits.shown_edits(text, h.hunks) == [("a = row[0]", "a = row[0].strip()")]


def test_a_flipped_operator_is_carried_only_where_the_same_operator_stands():
    text = "if x:\n    ok = a == 1\n    ok = b == 2\n    ok = c != 3\n"
    h = History()
    at = text.index("==")
    text = _edit(h, text, at, at + 2, "!=")
    found = next_edits.candidates(text, h.last(), cursor=at)
    assert [(c.old, c.new) for c in found] == [("ok = b == 2", "ok = b != 2")]  # not `!=` -> `!=`, nor every `==`


def test_minimal_edits_leave_out_shared_text_and_keep_words_whole():
    text = "x = total(a, b)\n"
    at = text.index("total")
    assert next_edits.minimal(text, Span(at, at + 5), "total_sum") == (Span(at, at + 5), "total_sum")
    call = Span(at, text.index(")") + 1)
    assert next_edits.minimal(text, call, "total(a, b, c=1)") == (Span(call.end - 1, call.end - 1), ", c=1")
    assert next_edits.minimal(text, call, "total(b)") == (Span(at + 6, at + 9), "")
    assert next_edits.minimal(text, Span(at, at + 5), "await total") == (Span(at, at), "await ")


def test_judge_keeps_what_the_model_prefers_by_the_margin(engine):
    from model import scoring

    h = History()
    text = _type(h, CODE, CODE.index("total") + 5, "_sum")
    found = next_edits.candidates(text, h.last(), cursor=0)

    def score(items):
        return scoring.preferences(engine, items, 256)

    gains = [scoring.preference(engine, text[: c.span.start], text[c.span.end :], c.old, c.new, 256) for c in found]
    batched = scoring.preferences(engine, [(text[: c.span.start], text[c.span.end :], c.old, c.new) for c in found], 256)
    assert [round(g, 3) for g in gains] == [round(g, 3) for g in batched]  # padding rows changes nothing
    pairs = next_edits.shown_edits(text, h.hunks)
    kept = next_edits.judge(score, text, found, pairs, "python", 256, margin=-100.0)
    assert len(kept) == len(found) and [k.margin for k in kept] == sorted((k.margin for k in kept), reverse=True)
    assert all(0 < k.confidence < 1 for k in kept) and all(isinstance(g, float) for g in gains)
    assert next_edits.judge(score, text, found, pairs, "python", 256, margin=100.0) == []


def test_eval_scenarios_record_the_users_part_and_expect_the_rest():
    source = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3), area(4, 5))\n"
    s = eval_next_edits.make_scenario(source, "rename", random.Random(0))
    assert s is not None and s.kind == "rename"
    hunk = s.history.last()
    old = next_edits.renamed(s.text, hunk)[0]
    new = hunk.new if next_edits.renamed(s.text, hunk)[1] == hunk.new else next_edits.renamed(s.text, hunk)[1]
    assert s.history.matches(s.text) and len(s.expected) >= 1
    for a, b, text in s.expected:  # each expected place still holds the old name and gets the new one
        assert s.text[a:b] == old and text == new
    found = {(c.span.start, c.span.end, c.new) for c in next_edits.candidates(s.text, hunk, s.cursor)}
    assert s.expected <= found


def test_a_suggestion_that_would_break_the_code_is_never_offered(engine):
    from model import scoring

    text = "x.y = 1\nprint(x.y)\nz = x.y\n"
    h = History()
    at = text.index("x.y)")
    text = _edit(h, text, at, at + 3, "list(x.y)")
    found = next_edits.candidates(text, h.last(), cursor=at)
    assert len(found) == 2  # the assignment's target and the use in `z = x.y`

    def score(items):
        return scoring.preferences(engine, items, 128)

    kept = next_edits.judge(score, text, found, next_edits.shown_edits(text, h.hunks), "python", 128, margin=-100.0)
    assert [text[k.span.start - 4 : k.span.end + 1] for k in kept] == ["z = x.y\n"]  # `list(x.y) = 1` is no Python


@pytest.mark.parametrize("kind", eval_next_edits.KINDS)
def test_every_kind_of_scenario_is_read_back_by_the_servers_candidates(kind):
    """The user's part replayed into a history is read back as the change it was: its expected places are among
    the candidates, as the same minimal edits."""
    scenario = next(
        s for seed in range(50) if (s := eval_next_edits.make_scenario(SOURCE, kind, random.Random(seed))) is not None
    )
    assert scenario.history.matches(scenario.text) and scenario.expected
    found = next_edits.candidates(scenario.text, scenario.history.last(), scenario.cursor)
    offered = set()
    for c in found:
        span, new = next_edits.minimal(scenario.text, c.span, c.new)
        offered.add((span.start, span.end, new))
    assert scenario.expected <= offered, (kind, scenario.history.hunks)


def test_eval_reports_precision_and_recall_per_margin(engine):
    report = eval_next_edits.run(engine, per_kind=1, seed=0, context_tokens=256)
    assert set(report["kinds"]) <= set(eval_next_edits.KINDS) and report["all"]["scenarios"] >= 1
    loosest = report["by_margin"][str(min(eval_next_edits.MARGINS))]
    strictest = report["by_margin"][str(max(eval_next_edits.MARGINS))]
    assert loosest["suggested"] >= strictest["suggested"]  # a higher margin never suggests more
    assert 0 <= loosest["correct"] <= min(loosest["suggested"], loosest["expected"])


def test_eval_times_next_edits_through_the_real_server():
    """`eval --next-edit --lsp N`: the user's part is replayed into a server subprocess as didChange edits (the
    replay checks it ends at the scenario's text), and each nextEdits request is timed."""
    report = eval_next_edits.server_latency(None, per_kind=1, seed=0, cases=2)
    assert report["cases"] == 2 and 0 < report["p50_ms"] <= report["p95_ms"]
