"""Fast tests of the server's parts without a session: positions, edits, spans, settings, context, scheduler,
and the actions called as plain functions on the real embedded model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lsp_server import actions, context, edits, positions, settings, spans
from lsp_server.scheduler import Cancelled, ModelUnavailable, Scheduler
from lsp_server.spans import Span
from lsp_server.workspace_index import WorkspaceIndex

EMOJI = 'a = "\U0001f600" + b\r\nnext\rlast'


# --- positions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, column", [("utf-16", 7), ("utf-8", 9), ("utf-32", 6)])
def test_columns_after_an_astral_character(encoding, column):
    lines = positions.Lines.of(EMOJI)
    assert positions.offset_at(lines, 0, column, encoding) == EMOJI.index('" +')
    assert positions.position_at(lines, EMOJI.index('" +'), encoding) == (0, column)


def test_line_breaks_and_out_of_range():
    lines = positions.Lines.of(EMOJI)
    assert positions.offset_at(lines, 1, 0, "utf-16") == EMOJI.index("next")
    assert positions.offset_at(lines, 2, 99, "utf-16") == len(EMOJI)  # past the line end clamps
    with pytest.raises(positions.PositionError, match="outside"):
        positions.offset_at(lines, 3, 1, "utf-16")
    with pytest.raises(positions.PositionError, match="before its start"):
        positions.range_offsets(lines, (1, 2), (1, 0), "utf-16")


def test_column_inside_a_surrogate_pair_rounds_to_the_character():
    assert positions.column_to_index('"\U0001f600x', 2, "utf-16") == 1


def test_incremental_change_and_negotiation():
    text = positions.apply_change(EMOJI, (0, 7), (0, 7), "!", "utf-16")
    assert text.startswith('a = "\U0001f600!" + b')
    assert positions.negotiate(["utf-32", "utf-16", "utf-8"]) == "utf-8"
    assert positions.negotiate(None) == "utf-16"


# --- edits --------------------------------------------------------------------------------------------------
def test_diff_is_minimal_and_round_trips():
    old, new = "    total = a + b\n    return total", "    total = a - b\n    return total * 2"
    reps = edits.diff_span(old, new, at=10)
    doc = "x" * 10 + old + "tail"
    assert edits.apply(doc, reps) == "x" * 10 + new + "tail"
    assert [r.text for r in reps] == ["-", " * 2"]


def test_workspace_edit_is_versioned_in_client_units():
    doc = 's = "\U0001f600" + x'
    reps = [edits.Replacement(doc.index("x"), len(doc), "y")]
    edit = edits.workspace_edit("file:///a.py", 4, doc, reps, "utf-16")
    change = edit.document_changes[0]
    assert change.text_document.version == 4 and change.edits[0].range.start.character == 11


# --- spans --------------------------------------------------------------------------------------------------
SRC = "def f(x):\n    y = x + 1\n    return y\n\n\ndef g():\n    ...\n"


def test_snap_widens_to_the_statement():
    i = SRC.index("x + 1")
    assert spans.snap(SRC, Span(i, i + 1), "python").text(SRC) == "y = x + 1"
    assert spans.snap("no grammar here\nsecond", Span(3, 5), None) == Span(0, 15)


def test_single_or_multi_line_from_the_syntax():
    assert spans.is_single_line("x = foo(1, ", 11, "python") is True
    assert spans.is_single_line("def f():\n    ", 13, "python") is False
    assert spans.is_single_line('s = "abc', 6, "python") is True


def test_placeholders_skip_strings():
    text = 'def h():\n    s = "..."\n    pass  # TODO later\n    v = <mask>\n    ...\n'
    found = [s.text(text) for s in spans.placeholders(text, Span(0, len(text)), "python")]
    assert found == ["pass  # TODO later", "<mask>", "..."]


def test_error_spans_and_clean_parse():
    broken = "def f(:\n    return 1\n"
    assert spans.parses_cleanly(SRC, "python") is True
    assert spans.parses_cleanly(broken, "python") is False
    assert spans.error_spans(broken, "python")
    assert spans.parses_cleanly("x" * (spans.MAX_PARSE_CHARS + 1), "python") is None
    # tree-sitter marks `return pass` only as an error inside the block, with no ERROR or MISSING node: the
    # guard must still see the insertion add an error region.
    before = "def f(a):\n    x = a\n    return \n\n\ndef g():\n    return 1\n"
    at = before.index("return ") + len("return ")
    after = before[:at] + "pass" + before[at:]
    assert spans.parses_cleanly(after, "python") is False and spans.error_spans(after, "python")
    assert spans.added_errors(before, after, at, at, at + 4, "python")


def test_python_blocks_that_tree_sitter_lets_through_are_errors_too():
    """tree-sitter's Python grammar accepts an empty block and a `try` with no handler; Python does not. The
    default model once completed an empty line of a test method with a lone `try:`, and the guard let it in."""
    before = "class T:\n    def test_one(self):\n\n        self.assertEqual(sum([1]), 1)\n"
    at = before.index("\n\n") + 1
    for new in ("        try:", "        def inner():", "        if ok:"):
        after = before[:at] + new + before[at:]
        assert not spans.error_spans(after, "python")  # tree-sitter sees nothing wrong
        assert spans.parses_cleanly(after, "python") is False
        added = spans.added_errors(before, after, at, at, at + len(new), "python")
        assert [a.text(after) for a in added] == [new]  # the edit's own line is the one to write again
    fine = before[:at] + "        x = 1" + before[at:]
    assert spans.added_errors(before, fine, at, at, at + len("        x = 1"), "python") == []
    # A selection from inside a block parses on its own (dedented); `return` outside a function is not a parse error.
    assert spans.parses_cleanly("    def f(self):\n        return 1\n", "python") is True
    assert spans.parses_cleanly("return x\n", "python") is True


# --- settings -----------------------------------------------------------------------------------------------
def test_settings_layers_and_bad_values(tmp_path: Path):
    client, problems = settings.overrides({"instantEdit": {"maxSteps": 4, "threshold": "high", "nope": 1}})
    assert client == {"max_steps": 4}
    assert len(problems) == 2
    (tmp_path / settings.TOML_NAME).write_text("max_steps = 9\ninline_completion = false\n")
    toml, problems = settings.read_toml(tmp_path)
    merged = settings.merge(client, toml)
    assert merged.max_steps == 9 and merged.inline_completion is False and not problems
    (tmp_path / settings.TOML_NAME).write_text("max_steps = [")
    assert settings.read_toml(tmp_path)[1]


def test_inline_completion_context_follows_the_model_unless_set():
    embedded, other = settings.Settings(), settings.Settings(model="/models/dream-7b")
    assert embedded.completion_context() < other.completion_context()  # measured on the embedded model only
    assert settings.Settings(completion_context_tokens=300).completion_context() == 300
    chosen = settings.merge(settings.overrides({"completionContextTokens": 64})[0], {})
    assert chosen.completion_context() == 64 and settings.overrides({"completionContextTokens": -1})[1]


# --- context ------------------------------------------------------------------------------------------------
def test_context_cuts_at_lines_and_adds_snippets(tmp_path: Path):
    (tmp_path / "lib.py").write_text("def helper_fn(a):\n    return a * 2\n")
    index = WorkspaceIndex(tmp_path)
    assert index.build() == 1
    text = "".join(f"line_{i} = {i}\n" for i in range(2000)) + "value = helper_fn(3)\n" + "tail = 1\n" * 500
    at = text.index("value")
    ctx = context.build(text, Span(at, at + 5), 64, "python", index, tmp_path / "main.py")
    assert ctx.snippets and "def helper_fn" in ctx.snippets[0] and "# from lib.py" in ctx.snippets[0]
    body = ctx.prefix[len("".join(ctx.snippets)) :]
    assert body.startswith("line_") and text[:at].endswith(body)
    assert ctx.suffix.endswith("\n") and text[at + 5 :].startswith(ctx.suffix)
    assert len(ctx.prefix) + len(ctx.suffix) <= 64 * context.CHARS_PER_TOKEN


def test_index_follows_a_folder_created_with_files_and_a_folder_removed(tmp_path):
    """Files inside a new folder may get no events of their own (written before the watch exists)."""
    index = WorkspaceIndex(tmp_path)
    index.build()
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "gen.py").write_text("def frobnicate(v):\n    return v\n")
    index.refresh(tmp_path / "pkg")
    assert [d.name for d in index.lookup("frobnicate")] == ["frobnicate"]
    (tmp_path / "pkg" / "sub" / "gen.py").unlink()
    (tmp_path / "pkg" / "sub").rmdir()
    (tmp_path / "pkg").rmdir()
    index.refresh(tmp_path / "pkg")
    assert index.lookup("frobnicate") == []


# --- scheduler ----------------------------------------------------------------------------------------------
def _waiting_job(started: threading.Event):
    def fn(engine, stop):
        started.set()
        while not stop():
            time.sleep(0.01)
        from model.sampler import DenoiseCancelled

        raise DenoiseCancelled()

    return fn


def test_latest_wins_and_load_errors():
    states = []
    import model

    sched = Scheduler(lambda folder: model.load(folder, device="cpu"), states.append)
    try:
        sched.load(None, "default")
        started = threading.Event()
        first = sched.submit(_waiting_job(started), key="doc")
        assert started.wait(10)
        queued = sched.submit(lambda e, s: "never", key="doc")
        newest = sched.submit(lambda e, s: f"ran on {e.device}", key="doc")
        assert newest.future.result(10) == "ran on cpu"
        for job in (first, queued):
            with pytest.raises(Cancelled, match="superseded"):
                job.future.result(10)
        # A switch that fails keeps the loaded model serving, and the state names the failure.
        sched.load("/no/such/folder", "broken")
        still = sched.submit(lambda e, s: f"ran on {e.device}")
        assert still.future.result(10) == "ran on cpu"
        assert [s.state for s in states] == ["loading", "ready", "loading", "ready"]
        assert "/no/such/folder" in states[-1].failure and "still serving" in states[-1].message
    finally:
        sched.close()
    # With no model loaded before, the same failure leaves nothing to serve: requests fail with the reason.
    states.clear()
    sched = Scheduler(lambda folder: model.load(folder, device="cpu"), states.append)
    try:
        sched.load("/no/such/folder", "broken")
        failed = sched.submit(lambda e, s: "no")
        with pytest.raises(ModelUnavailable, match="/no/such/folder"):
            failed.future.result(10)
        assert [s.state for s in states] == ["loading", "error"]
    finally:
        sched.close()


# --- actions on the real model --------------------------------------------------------------------------------
def test_actions_run_without_a_session(engine):
    text = "def total(values):\n    return <mask>\n"
    target = actions.Target(text, Span(0, len(text)), "python")
    drafts = []
    out = actions.fill(engine, target, actions.Options(), actions.Hooks(on_draft=lambda s, t: drafts.append(t)))
    assert out.replacements and "<mask>" not in edits.apply(text, list(out.replacements))
    assert drafts and "\u2591" in drafts[0]
    empty = actions.rewrite(engine, target, actions.Options(), "   ")
    assert not empty.replacements and "empty" in empty.message


def test_syntax_guard_flags_or_fixes_a_broken_result(engine):
    text = "def f(x):\n    return x\n"
    target = actions.Target(text, Span(text.index("x\n"), text.index("x\n") + 1), "python")
    new, flagged, rounds = actions.guard(engine, target, actions.Options(), "(((", actions.Hooks())
    doc = text[: target.span.start] + new + text[target.span.end :]
    assert rounds >= 1
    assert flagged == (spans.parses_cleanly(doc, "python") is False)


def test_fill_with_an_empty_selection_works_on_the_enclosing_definition():
    text = "x = 1\n\n\ndef total(values):\n    return <mask>\n"
    at = text.index("return")
    span = actions.fill_span(actions.Target(text, Span(at, at), "python"))
    assert span.text(text) == "def total(values):\n    return <mask>"
