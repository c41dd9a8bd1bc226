"""Two checkpoints on the same held-out holes, hole by hole (`instant-edit eval --against DIR`).

Exact match on a few hundred holes moves by a few cases between checkpoints, within noise. Pairing the holes
shows what changed: the holes only one model gets right, and a two-sided sign test on them (exact binomial),
the chance of a split at least this uneven if neither model were better.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from model.engine import Engine
from model.evaluate import EvalConfig, held_out_holes, likelihood, sampled_rows, summarize


def sign_test(only_a: int, only_b: int) -> float:
    """Two-sided exact sign test: p of a split at least this uneven between two equally good models."""
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def split(rows_a: list[dict], rows_b: list[dict], key: str, among: str | None = None) -> dict:
    """How many holes only A (only B) has `key` true on, among the holes where `among` is true (all if None)."""
    pairs = [(a[key], b[key]) for a, b in zip(rows_a, rows_b) if among is None or a[among]]
    only_a = sum(bool(a) and not b for a, b in pairs)
    only_b = sum(bool(b) and not a for a, b in pairs)
    return {"only_a": only_a, "only_b": only_b, "p": round(sign_test(only_a, only_b), 4)}


def compare(
    engine: Engine, other: Engine, cfg: EvalConfig, on_progress: Callable[[str, str, int], None] | None = None
) -> dict:
    """{kind: {sampler: {a, b, exact, parses}}}: each model's summary on the same holes, and the paired splits
    (with `cfg.likelihood`, also {kind: {"likelihood": {a, b}}}: the true span's cross-entropy for each)."""
    report: dict = {}
    # The holes are cut with the first model's tokenizer (its truth-length limit), then given to both.
    for kind, cases in held_out_holes(cfg, engine.tok):
        report[kind] = {}
        if cfg.likelihood:
            report[kind]["likelihood"] = {"a": likelihood(engine, cases), "b": likelihood(other, cases)}
        for name in cfg.samplers:
            rows_a = sampled_rows(engine, cases, kind, name, on_progress)
            rows_b = sampled_rows(other, cases, kind, name, on_progress)
            report[kind][name] = {
                "a": summarize(rows_a),
                "b": summarize(rows_b),
                "exact": split(rows_a, rows_b, "exact"),
                "parses": split(rows_a, rows_b, "parses_after", among="parsed_before"),
            }
    return report


def render(report: dict, a: str, b: str) -> list[str]:
    """One line per span kind and sampler."""
    lines = [f"A: {a}", f"B: {b}", "kind sampler cases | exact A / B, only A / only B, p | parses A / B, only A / "
             "only B, p | edit similarity A / B"]
    for kind, by_sampler in report.items():
        for name, r in by_sampler.items():
            if name == "likelihood":
                lines.append(f"{kind}: true span in one pass, cross-entropy A / B {r['a']['hole_ce']:.3f} / "
                             f"{r['b']['hole_ce']:.3f} nats/token ({r['a']['cases']} cases)")
                continue
            ra, rb, ex, pa = r["a"], r["b"], r["exact"], r["parses"]
            lines.append(
                f"{kind} {name} {ra['cases']} | {ra['exact_match']:.1%} / {rb['exact_match']:.1%}, "
                f"{ex['only_a']} / {ex['only_b']}, p {ex['p']:.3f} | {ra['parse_rate']:.1%} / {rb['parse_rate']:.1%}, "
                f"{pa['only_a']} / {pa['only_b']}, p {pa['p']:.3f} | {ra['edit_similarity']:.3f} / "
                f"{rb['edit_similarity']:.3f}")
    return lines
