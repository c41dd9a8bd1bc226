"""Why a checkpoint's held-out lines are wrong: too short, or not known?

    python3 scripts/line_lengths.py [--model DIR] [--cases 100] [--seed 0]

On empty single-line holes (the `instant-edit eval` line holes) it prints one JSON object:
- `lengths`: answer and truth tokens at the median, and how many wrong answers are shorter than the truth;
- `budgets`: exact lines and tokens per answer when an empty line gets each budget (the engine gives 8);
- `forced`: candidates written with at least n tokens (`SamplerConfig.min_tokens`) and how many holes any of
  them gets right (the oracle), against the unforced answer;
- `likelihood`: among wrong answers, how often the model's own left-to-right chain likelihood puts the true line
  above its answer, in total and per token.
If more room or forced length finds no more right lines and the model prefers its own answers, the sampler
cannot help: what the model knows can.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace

import torch

from model.engine import Engine, load
from model.evaluate import FAST, EvalConfig, held_out_holes
from model.heldout import HeldOutCase

BUDGETS = (8, 12, 16, 24, 32)
FORCED = (2, 4, 6, 9)


@torch.inference_mode()
def chain_logprob(engine: Engine, case: HeldOutCase, text: str, budget: int) -> tuple[float, int]:
    """(sum of log-probabilities, tokens) of `text` and its closing pad, revealed one token at a time from the left."""
    tokens = engine.tok.encode(text) + [engine.special.pad]
    row = engine.make_row(case.request, budget)
    ids = torch.tensor([row.prefix + row.span + row.suffix], device=engine.device)
    start, shift = len(row.prefix), 1 if engine.net.cfg.logit_shift else 0
    total = 0.0
    for j, token in enumerate(tokens):
        read = torch.tensor([[start + j - shift]], device=engine.device)
        logits = engine.net(ids, read_index=read).logits[0, 0].float()
        logits[engine.special.mask] = -torch.inf
        total += torch.log_softmax(logits, -1)[token].item()
        ids[0, start + j] = token
    return total, len(tokens)


def same(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def diagnose(engine: Engine, cases: list[HeldOutCase]) -> dict:
    def count(text: str) -> int:
        return len(engine.tok.encode(text))

    answers = [engine.infill(c.request, FAST).text for c in cases]
    wrong = [(c, a) for c, a in zip(cases, answers) if not same(a, c.truth)]
    budgets = {}
    for budget in BUDGETS:
        texts = [engine.infill(replace(c.request, budget=budget), FAST).text for c in cases]
        budgets[budget] = {"exact": sum(same(t, c.truth) for t, c in zip(texts, cases)),
                           "tokens_per_answer": round(sum(map(count, texts)) / len(texts), 2)}
    oracle, distinct = 0, 0
    for c, a in zip(cases, answers):
        lines = {a} | {engine.infill(c.request, replace(FAST, min_tokens=n)).text for n in FORCED}
        oracle += any(same(t, c.truth) for t in lines)
        distinct += len(lines)
    truth_total = truth_per_token = 0
    for c, a in wrong:
        longest = max(count(a), count(c.truth)) + 1
        budget = 16 if longest <= 16 else 32
        (la, na), (lt, nt) = chain_logprob(engine, c, a, budget), chain_logprob(engine, c, c.truth, budget)
        truth_total += lt > la
        truth_per_token += lt / nt > la / na
    return {
        "cases": len(cases),
        "exact": len(cases) - len(wrong),
        "lengths": {"answer_tokens_median": statistics.median(map(count, answers)),
                    "truth_tokens_median": statistics.median(count(c.truth) for c in cases),
                    "wrong": len(wrong), "wrong_shorter_than_truth": sum(count(a) < count(c.truth) for c, a in wrong)},
        "budgets": budgets,
        "forced": {"min_tokens": list(FORCED), "lines_per_hole": round(distinct / len(cases), 2), "oracle_exact": oracle},
        "likelihood": {"wrong": len(wrong), "truth_likelier_in_total": truth_total,
                       "truth_likelier_per_token": truth_per_token},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint folder (default: the embedded model)")
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    engine = load(args.model)
    cfg = EvalConfig(kinds=("line",), cases_per_kind=args.cases, seed=args.seed)
    _, cases = next(held_out_holes(cfg, engine.tok))
    print(json.dumps(diagnose(engine, cases)))


if __name__ == "__main__":
    main()
