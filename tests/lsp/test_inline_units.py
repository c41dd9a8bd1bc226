"""Inline completion's decisions without the server: where the hole goes, when typing asks, typing through a
suggestion, the debounce, single- or multi-line, and background jobs that yield to every request."""

from __future__ import annotations

import threading
import time

import pytest

from lsp_server import inline, spans
from lsp_server.inline import Debounce, Shown
from lsp_server.scheduler import Cancelled, Scheduler
from lsp_server.spans import Span

BODY = 'def f(a):\n    """Doc."""\n{line}\n\nx = 1\n'


@pytest.mark.parametrize(
    ("line", "column", "lead", "replaced"),
    [("", 0, "    ", 0), ("    ", 0, "    ", 4), ("    ", 4, "", 0), ("  ", 1, " ", 1)],
    ids=["empty", "indented-col0", "after-indent", "own-indent"],
)
def test_whitespace_line_holes_keep_the_indentation(line, column, lead, replaced):
    text = BODY.format(line=line)
    start = text.index('"""Doc."""') + len('"""Doc."""\n')
    hole = inline.hole_at(text, start + column)
    assert hole.lead == lead
    assert hole.replace == Span(start + column, start + column + replaced)
    indent = line or "    "
    assert hole.text[hole.offset - len(indent) : hole.offset] == indent  # the model writes after the indentation
    assert hole.answer("return a") == lead + "return a" and hole.answer("") == ""


def test_expected_indent_after_a_block_opener_and_inside_a_block():
    assert inline.expected_indent("def f():\n", 9) == "    "
    assert inline.expected_indent("if x:\n\ty = 1\n", 13) == "\t"
    assert inline.expected_indent("class A:\n  def f(self):\n", 24) == "    "  # 2-space file: one level deeper
    assert inline.expected_indent("", 0) == ""


def test_typing_asks_only_before_closers():
    text = "call(a, \nvalue = compute(x)\n"
    assert inline.typing_should_ask(text, 8)  # end of line
    assert inline.typing_should_ask(text, text.index("x)") + 1)  # before `)`
    assert not inline.typing_should_ask(text, text.index("compute"))  # before code


def test_typed_through_follows_typing_and_backspacing():
    shown = Shown("x = \ny\n", Span(4, 4), "foo(1)")
    assert inline.typed_through(shown, "x = \ny\n", 4) == "foo(1)"
    assert inline.typed_through(shown, "x = fo\ny\n", 6) == "o(1)"
    assert inline.typed_through(shown, "x = fa\ny\n", 6) is None  # departed from the suggestion
    assert inline.typed_through(shown, "x = fo\ny\n", 5) is None  # cursor elsewhere
    assert inline.typed_through(shown, "x = foo(1)\ny\n", 10) is None  # typed to the end: a new request
    assert inline.typed_through(shown, "z = fo\ny\n", 6) is None  # the document changed elsewhere
    assert inline.accepted(shown) == ("x = foo(1)\ny\n", 10)
    whitespace = Shown("    \n", Span(0, 4), "    pass")  # a blank line's whitespace is replaced
    assert inline.typed_through(whitespace, " " * 5 + "\n", 1) is None  # a space typed before it
    assert inline.typed_through(whitespace, "    pa\n", 6) == "ss"  # a partial accept, or typed after it
    assert inline.accepted(whitespace) == ("    pass\n", 8)


def test_debounce_adapts_to_typing_and_to_the_model():
    fixed = Debounce(fixed_ms=75)
    assert fixed.delay_ms() == 75
    d = Debounce()
    assert d.delay_ms() == 0  # nothing known yet
    for i in range(10):
        d.edited(now=i * 0.1)  # a key every 100 ms
    d.answered(150)
    assert d.delay_ms() == 0  # the model keeps up within two gaps: waiting only adds latency
    for _ in range(10):
        d.answered(400)
    assert d.delay_ms() == pytest.approx(120, rel=0.05)  # far slower than typing: wait a little over a gap
    d.edited(now=100.0)  # a pause does not count as typing speed
    assert d.gap_ms == pytest.approx(100, rel=0.05)


@pytest.mark.parametrize(
    ("text", "single"),
    [
        ("x = foo(1)|\n", True),  # end of a line with code: the rest of that line
        ("def f():\n    x = 1\n    |\n    return x\n", True),  # an empty line in a block: one line
        ("def f():\n    |", False),  # after a def header: the body, several lines
        ("class A:\n    |", False),
        ("if ok:\n    |", False),
        ("x = foo(1, |", True),  # inside brackets: stay on the line
        ("def f():\n    return 1\n\n|", True),  # end of the file, after a complete definition
    ],
    ids=["end-of-code-line", "empty-line-in-block", "after-def", "after-class", "after-if", "in-brackets", "eof"],
)
def test_single_or_multi_line_cases(text, single):
    offset = text.index("|")
    assert spans.is_single_line(text.replace("|", ""), offset, "python") is single


def test_a_request_cancels_background_work_and_runs_first():
    import model

    sched = Scheduler(lambda folder: model.load(folder, device="cpu"), lambda state: None)
    try:
        sched.load(None, "default")
        assert sched.wait_ready(10)
        started = threading.Event()

        def background(engine, stop):
            started.set()
            while not stop():
                time.sleep(0.01)
            from model.sampler import DenoiseCancelled

            raise DenoiseCancelled()

        running = sched.submit(background, key="prefetch:a", background=True)
        assert started.wait(10)
        request = sched.submit(lambda e, s: "answered", key="complete:a")
        assert request.future.result(10) == "answered"
        with pytest.raises(Cancelled):
            running.future.result(10)
        # Queued background work waits behind requests and is dropped by the next one.
        gate = threading.Event()
        busy = sched.submit(lambda e, s: gate.wait(10) and "busy")
        queued = sched.submit(lambda e, s: "prepared", background=True)
        after = sched.submit(lambda e, s: "next")
        gate.set()
        assert busy.future.result(10) == "busy" and after.future.result(10) == "next"
        with pytest.raises(Cancelled):
            queued.future.result(10)
        alone = sched.submit(lambda e, s: "prepared", background=True)
        assert alone.future.result(10) == "prepared"  # with nothing else to do it runs
    finally:
        sched.close()
