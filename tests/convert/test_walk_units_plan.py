"""The pure stages: walking a tree, cutting files into units, planning and packing requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert.tree import build
from lsp_server.cli.batch import plan, sample_tree
from lsp_server.cli.batch.units import split_units
from lsp_server.cli.batch.walk import Filters, walk
from model.engine import InfillRequest
from model.requests import guess_budget


def rels(files) -> list[str]:
    return [str(f.rel) for f in files]


def test_walk_respects_gitignore_and_globs(tmp_path: Path):
    build(tmp_path)
    (tmp_path / "pkg0" / ".gitignore").write_text("mod2.py\n")
    (tmp_path / ".mod9.py.ie-tmp-123").write_text("left by a kill\n")
    root, files = walk([tmp_path])
    names = rels(files)
    assert root == tmp_path.resolve()
    assert "build/out.py" not in names and "table_gen.py" not in names  # root .gitignore
    assert "pkg0/mod2.py" not in names and "pkg0/mod0.py" in names  # nested .gitignore
    assert ".mod9.py.ie-tmp-123" not in names
    assert {"blob.py", "locked.py", "web/app0.js"} <= set(names)
    assert "table_gen.py" in rels(walk([tmp_path], Filters(gitignore=False))[1])
    assert rels(walk([tmp_path], Filters(include=("*.js",)))[1]) == ["web/app0.js"]
    assert not any(n.startswith("pkg1/") for n in rels(walk([tmp_path], Filters(exclude=("pkg1/",)))[1]))


def test_walk_of_single_files_keeps_paths_relative_to_their_common_folder(tmp_path: Path):
    build(tmp_path, awkward=False)
    root, files = walk([tmp_path / "pkg0" / "mod0.py", tmp_path / "pkg1" / "mod1.py"])
    assert root == tmp_path.resolve()
    assert rels(files) == ["pkg0/mod0.py", "pkg1/mod1.py"]


def test_units_are_definitions_and_statement_runs_in_order():
    text = sample_tree.python_module(1)
    split = split_units(text, "python", lambda t: True)
    kinds = [u.kind for u in split.units]
    assert kinds == ["block", "block", "function", "function", "class", "function"]
    assert [u.text(text).split("\n")[0] for u in split.units][:2] == ["import os", "LIMIT = 1"]
    assert all(a.end <= b.start for a, b in zip(split.units, split.units[1:]))


def test_a_class_too_long_for_one_span_is_split_into_its_methods():
    text = sample_tree.python_module(1)
    split = split_units(text, "python", lambda t: len(t) < 120)
    texts = [u.text(text) for u in split.units]
    assert any(t.startswith("def __init__") for t in texts) and any(t.startswith("def push") for t in texts)
    assert not any(t.startswith("class ") for t in texts)
    assert split.too_long == 2  # the two scale_ functions: no members to split them into
    assert split_units(text, "python", lambda t: len(t) < 120, descend=False).too_long == 3


def test_javascript_units():
    text = sample_tree.JS_FUNCTION.format(name="f", n=1) + "\nconst x = 1;\n"
    kinds = [u.kind for u in split_units(text, "javascript", lambda t: True).units]
    assert kinds == ["function", "block"]


def test_instruction_goes_in_a_comment_above_the_unit_at_its_indentation():
    text = "class A:\n    def f(self):\n        return 1\n"
    unit = next(u for u in split_units(text, "python", lambda t: len(t) < 30).units)
    [job] = plan.jobs_for_unit(0, 0, text, unit, plan.Mode("instruction", "Add   type hints."), "python")
    assert job.request.prefix == "class A:\n    # Add type hints.\n    "
    assert job.request.span == "def f(self):\n        return 1" and job.request.suffix == "\n"
    [lua] = plan.jobs_for_unit(
        0,
        0,
        "x = 1\n",
        split_units("x = 1\n", "lua", lambda t: True).units[0],
        plan.Mode("to", language="python"),
        "lua",
    )
    assert lua.request.prefix == "-- Translate the following code to python.\n"


def test_fill_makes_one_request_per_placeholder():
    text = sample_tree.python_module(0, placeholders=True) + "\n\ndef g():\n    x = ...\n    return <mask>\n"
    units = split_units(text, "python", lambda t: True).units
    mode = plan.Mode("fill")
    jobs = [j for i, u in enumerate(units) for j in plan.jobs_for_unit(0, i, text, u, mode, "python")]
    assert len(jobs) == 3
    assert [j.request.span for j in jobs] == ["", "", ""]
    assert jobs[1].request.single_line and jobs[1].request.prefix.endswith("x = ")


def test_pack_sorts_by_size_and_respects_both_limits():
    jobs = [plan.Job(0, i, 0, InfillRequest("", "", "x" * n), False) for i, n in enumerate([50, 3, 20, 7, 90, 5])]
    jobs.append(plan.Job(1, 0, 0, InfillRequest("", "", "y"), True))
    jobs.append(plan.Job(1, 1, 0, InfillRequest("", "", "zz"), True))
    batches = plan.pack(jobs, lambda r: len(r.span), batch_size=3, batch_tokens=100)
    sizes = [[j.size for j in b.jobs] for b in batches]
    assert sizes == [[3, 5, 7], [20, 50], [90], [1, 2]]  # [20, 50, 90] would cost 3 rows x 90 > 100 tokens
    assert all(len({j.repair for j in b.jobs}) == 1 for b in batches)  # repairs and infills never share a batch
    assert batches[-1].repair and not batches[0].repair
    seen = sorted((j.file, j.unit) for b in batches for j in b.jobs)
    assert seen == sorted((j.file, j.unit) for j in jobs)


def test_repair_jobs_carry_the_margin_and_never_share_a_batch_with_guard_repairs():
    text = "def f(a):\n    return a\n"
    from lsp_server.cli.batch.units import Unit

    jobs = plan.jobs_for_unit(0, 0, text, Unit(0, len(text), "function"), plan.Mode("repair", repair_margin=6.0), "python")
    assert [j.margin for j in jobs] == [6.0] and jobs[0].repair
    guard_repair = plan.Job(0, 1, -1, InfillRequest("", "", "x"), True)  # the syntax guard's: the bound
    batches = plan.pack([*jobs, guard_repair], lambda r: len(r.span), batch_size=8, batch_tokens=1000)
    assert sorted(b.margin is None for b in batches) == [False, True] and all(len(b.jobs) == 1 for b in batches)


def test_packing_budget_is_the_engines_budget(engine):
    text = sample_tree.python_module(3)
    for request in (InfillRequest(text[:90], text[190:], text[90:190]), InfillRequest("a", "b", single_line=True)):
        assert guess_budget(request, lambda t: len(engine.tok.encode(t))) == engine.default_budget(request)


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown conversion mode"):
        plan.Mode("shout")
