"""The context cache: exact when the span has not changed, close to the uncached sampler when it has."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from model import InfillRequest, SamplerConfig
from model.heldout import held_out_files, make_cases
from model.network import Denoiser
from model.predictor import SpanPredictor
from model.sampler import build_layout

REQUESTS = [
    InfillRequest("def add(a, b):\n    ", "\n\n\nprint(add(1, 2))\n", single_line=True),
    InfillRequest("import os\nimport sys\n\n\ndef main(argv):\n    ", "\n    return 0\n", single_line=False),
    InfillRequest("x = ", "\n", single_line=True),
]


@pytest.mark.parametrize("shift", [False, True])
def test_span_only_step_equals_full_pass_on_the_same_ids(engine, shift):
    net = engine.net
    if shift:  # the Dream family's rule: logits for position i are read at i-1
        cfg = dataclasses.replace(net.cfg, logit_shift=True)
        net = Denoiser(cfg).eval()
        net.load_state_dict(engine.net.state_dict())
    rows = [engine.make_row(r, b) for r, b in zip(REQUESTS, (8, 24, 5))]  # different lengths: a padded batch
    layout = build_layout(rows, engine.special.pad, torch.device("cpu"))
    predictor = SpanPredictor(net, use_cache=True)
    predictor.reset(layout)
    full = predictor(layout.ids)
    cached = predictor(layout.ids)
    assert predictor.context is not None and predictor.nfe == 2
    for i, row in enumerate(rows):
        n = len(row.span)
        torch.testing.assert_close(cached[i, :n], full[i, :n], atol=1e-4, rtol=1e-4)


def test_refresh_runs_a_full_pass_every_k_steps(engine):
    row = engine.make_row(REQUESTS[0], 8)
    layout = build_layout([row], engine.special.pad, torch.device("cpu"))
    predictor = SpanPredictor(engine.net, use_cache=True, refresh_every=2)
    predictor.reset(layout)
    after_each = []
    for _ in range(6):
        predictor(layout.ids)
        after_each.append(predictor.calls_since_refresh)  # 0 right after a full pass
    assert after_each == [0, 1, 2, 0, 1, 2]


# Over these 30 held-out lines the model shipped before session 20 agreed on at least 24; the default since then
# (pre-trained left to right, logits shifted) on 21. Its disagreements cost no quality on single lines: 100 held-out
# lines cached / uncached, exact 9% / 8%, parses 70% / 72% (`instant-edit eval --kinds line --samplers fast
# fast_uncached`). A cache that broke the context would agree on next to none.
AGREEMENT_BOUND = 0.65


def test_cached_greedy_output_agrees_with_uncached_on_held_out_lines(engine):
    cases = make_cases(held_out_files(), "line", 30, seed=1, max_truth_tokens=24, tok=engine.tok)
    same = 0
    for case in cases:
        cached = engine.infill(case.request, SamplerConfig(use_cache=True))
        plain = engine.infill(case.request, SamplerConfig(use_cache=False))
        same += cached.text == plain.text
    assert same / len(cases) >= AGREEMENT_BOUND, f"{same}/{len(cases)} identical"


def test_finished_rows_leave_the_batch_and_results_match_single_rows(engine):
    """One token per step: the rows finish after 5, 8 and 24 steps, and each model call runs only unfinished rows."""
    from model.sampler import Sampler

    cfg = SamplerConfig(schedule="fixed", tokens_per_step=1, grow=False, pad_fills_tail=False)
    budgets = (8, 24, 5)
    batch_sizes: list[int] = []
    hook = engine.net.register_forward_pre_hook(lambda _m, args, _kw: batch_sizes.append(args[0].shape[0]), with_kwargs=True)
    try:
        batched = Sampler(engine.net, engine.special, cfg).run([engine.make_row(r, b) for r, b in zip(REQUESTS, budgets)])
    finally:
        hook.remove()
    assert batch_sizes == [3] * 5 + [2] * 3 + [1] * 16
    for request, budget, result in zip(REQUESTS, budgets, batched):
        single = Sampler(engine.net, engine.special, cfg).run([engine.make_row(request, budget)])[0]
        assert result.span == single.span
