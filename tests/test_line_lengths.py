"""scripts/line_lengths.py on the real embedded model and a few held-out line holes: its counts agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from model.evaluate import EvalConfig, held_out_holes

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "line_lengths.py"


def load_script():
    spec = importlib.util.spec_from_file_location("line_lengths", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_line_lengths_counts_agree(engine):
    script = load_script()
    _, cases = next(held_out_holes(EvalConfig(kinds=("line",), cases_per_kind=3, seed=0), engine.tok))
    report = script.diagnose(engine, cases)
    assert report["cases"] == 3 and report["exact"] + report["lengths"]["wrong"] == 3
    assert report["lengths"]["wrong_shorter_than_truth"] <= report["lengths"]["wrong"]
    # The unforced answer is among the candidates, so the oracle gets at least what it gets.
    assert report["exact"] <= report["forced"]["oracle_exact"] <= 3
    assert report["budgets"][8]["exact"] == report["exact"]  # 8 is the engine's own budget for an empty line
    assert 1 <= report["forced"]["lines_per_hole"] <= 1 + len(script.FORCED)
    likelihood = report["likelihood"]
    assert likelihood["wrong"] == report["lengths"]["wrong"]
    assert 0 <= likelihood["truth_likelier_in_total"] <= likelihood["wrong"]


def test_chain_logprob_prefers_the_files_own_line(engine):
    """Scored the same way, a line from the file beats the same line scrambled: the chain reads the model."""
    script = load_script()
    _, cases = next(held_out_holes(EvalConfig(kinds=("line",), cases_per_kind=1, seed=0), engine.tok))
    case = cases[0]
    own, n = script.chain_logprob(engine, case, case.truth, 32)
    scrambled, _ = script.chain_logprob(engine, case, case.truth[::-1], 32)
    assert n == len(engine.tok.encode(case.truth)) + 1
    assert own < 0 and scrambled < own
