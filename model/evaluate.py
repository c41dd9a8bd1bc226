"""Held-out evaluation of a checkpoint: exact match, edit similarity, parse rate and model calls per token."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace

from model.engine import Engine
from model.heldout import HeldOutCase, held_out_files, make_cases
from model.sampler import SamplerConfig
from model.syntax import parser_for

GREEDY = SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False, pad_run_above=0.0)
FAST = SamplerConfig(schedule="threshold", threshold=0.9, use_cache=True)
SAMPLERS = {
    "greedy_one_per_step": GREEDY,
    "fast": FAST,
    # The length decided left to right (see SamplerConfig.pad_at_frontier); not in the default report.
    "greedy_frontier": replace(GREEDY, pad_at_frontier=True),
    "fast_frontier_window4": replace(FAST, pad_at_frontier=True, pad_run_above=0.0, window=4),
}
DEFAULT_SAMPLERS = ("greedy_one_per_step", "fast")
MAX_TRUTH_TOKENS = {"line": 24, "lines": 128, "random": 64}


@dataclass(frozen=True)
class EvalConfig:
    kinds: tuple[str, ...] = ("line", "lines", "random")
    cases_per_kind: int = 100
    samplers: tuple[str, ...] = DEFAULT_SAMPLERS  # names in SAMPLERS
    seed: int = 0


def parses(text: str, language: str) -> bool | None:
    """Whether tree-sitter parses `text` without error; None when there is no grammar."""
    parser = parser_for(language)
    if parser is None:
        return None
    return not parser.parse(text.encode()).root_node.has_error


def score_case(engine: Engine, case: HeldOutCase, sampler: SamplerConfig) -> dict:
    res = engine.infill(case.request, sampler)
    original = case.request.prefix + case.truth + case.request.suffix
    filled = case.request.prefix + res.text + case.request.suffix
    before = parses(original, case.language)
    return {
        "exact": res.text.strip() == case.truth.strip(),
        "similarity": difflib.SequenceMatcher(None, res.text.strip(), case.truth.strip()).ratio(),
        "parsed_before": bool(before),
        "parses_after": bool(before) and bool(parses(filled, case.language)),
        "nfe": res.nfe,
        "tokens": res.new_tokens,
    }


def summarize(rows: list[dict]) -> dict:
    n = max(1, len(rows))
    parsable = [r for r in rows if r["parsed_before"]]
    return {
        "cases": len(rows),
        "exact_match": round(sum(r["exact"] for r in rows) / n, 4),
        "edit_similarity": round(sum(r["similarity"] for r in rows) / n, 4),
        "parse_rate": round(sum(r["parses_after"] for r in parsable) / max(1, len(parsable)), 4),
        "nfe_per_token": round(sum(r["nfe"] for r in rows) / max(1, sum(r["tokens"] for r in rows)), 4),
    }


def evaluate(engine: Engine, cfg: EvalConfig, on_progress: Callable[[str, str, int], None] | None = None) -> dict:
    """{kind: {sampler: metrics}} over the same held-out holes for every sampler."""
    files = held_out_files()
    report: dict = {}
    for kind in cfg.kinds:
        cases = make_cases(files, kind, cfg.cases_per_kind, cfg.seed, MAX_TRUTH_TOKENS.get(kind, 128), engine.tok)
        report[kind] = {}
        for name in cfg.samplers:
            sampler = SAMPLERS[name]
            rows = []
            for i, case in enumerate(cases):
                rows.append(score_case(engine, case, sampler))
                if on_progress:
                    on_progress(kind, name, i + 1)
            report[kind][name] = summarize(rows)
    return report
