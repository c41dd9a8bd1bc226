"""Sampler invariants on the real embedded model (and one random-weight network for the growth rule)."""

from __future__ import annotations

import math

import pytest
import torch

from model import InfillRequest, SamplerConfig
from model.network import Denoiser
from model.sampler import DenoiseCancelled, Row, Sampler

# 32 positions, so that step counts below do not depend on the engine's budget guess.
REQUEST = InfillRequest(
    prefix="def add(a, b):\n    ", suffix="\n\n\nprint(add(1, 2))\n", single_line=True, budget=32
)


def rows_for(engine, budget=16):
    row = engine.make_row(REQUEST, budget)
    return [row], list(row.prefix), list(row.suffix)


def test_prefix_and_suffix_are_never_altered(engine):
    rows, prefix, suffix = rows_for(engine)
    sampler = Sampler(engine.net, engine.special, SamplerConfig(schedule="fixed", tokens_per_step=3))
    sampler.run(rows)
    assert rows[0].prefix == prefix and rows[0].suffix == suffix
    ids = sampler.predictor.layout.ids[0].tolist()
    assert ids[: len(prefix)] == prefix
    assert ids[len(prefix) + len(rows[0].span) : len(prefix) + len(rows[0].span) + len(suffix)] == suffix


@pytest.mark.parametrize("cfg", [
    SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False),
    SamplerConfig(schedule="threshold", threshold=0.9),
    SamplerConfig(schedule="threshold", order="margin", threshold=0.5),
    SamplerConfig(schedule="fixed", order="entropy", tokens_per_step=4),
    SamplerConfig(schedule="threshold", temperature=0.8, seed=3),
])
def test_no_mask_or_pad_left_in_output(engine, cfg):
    rows, _, _ = rows_for(engine)
    (res,) = Sampler(engine.net, engine.special, cfg).run(rows)
    assert engine.special.mask not in res.span
    assert engine.special.pad not in res.span
    assert len(res.confidence) == len(res.span)


def test_pad_positions_are_dropped_from_text(engine):
    res = engine.infill(REQUEST, SamplerConfig())
    assert "<|pad|>" not in res.text and "<|mask|>" not in res.text


def test_min_tokens_keeps_pad_out_of_the_first_positions(engine):
    """An explicit completion must say something; the shipped model leaves these holes empty by default."""
    holes = [
        InfillRequest("def total(items):\n    return ", "", single_line=True),
        InfillRequest("import os\n\nfor name in os.listdir('.'):\n    ", "\n", single_line=True),
        REQUEST,
    ]
    for min_tokens in (1, 3):
        cfg = SamplerConfig(min_tokens=min_tokens, grow=False)
        rows = [engine.make_row(r, 8) for r in holes]
        for res in Sampler(engine.net, engine.special, cfg).run(rows):
            assert len(res.span) >= min_tokens and engine.special.pad not in res.span[:min_tokens]


def test_fixed_schedule_takes_budget_over_k_steps(engine):
    for k in (1, 4, 16):
        rows, _, _ = rows_for(engine, budget=16)
        (res,) = Sampler(engine.net, engine.special, SamplerConfig(schedule="fixed", tokens_per_step=k, grow=False, pad_fills_tail=False)).run(rows)
        assert res.steps == math.ceil(16 / k)


def test_max_steps_caps_the_loop(engine):
    rows, _, _ = rows_for(engine, budget=32)
    (res,) = Sampler(engine.net, engine.special, SamplerConfig(schedule="fixed", max_steps=5, grow=False)).run(rows)
    assert res.steps <= 5


def test_greedy_is_deterministic_and_sampling_follows_the_seed(engine):
    a = engine.infill(REQUEST, SamplerConfig())
    b = engine.infill(REQUEST, SamplerConfig())
    assert a.text == b.text
    s1 = engine.infill(REQUEST, SamplerConfig(temperature=1.0, seed=7, use_cache=False))
    s2 = engine.infill(REQUEST, SamplerConfig(temperature=1.0, seed=7, use_cache=False))
    assert s1.text == s2.text


def test_threshold_decoding_uses_fewer_calls_than_one_per_step(engine):
    slow = engine.infill(REQUEST, SamplerConfig(schedule="fixed", tokens_per_step=1, grow=False, pad_fills_tail=False))
    fast = engine.infill(REQUEST, SamplerConfig(schedule="threshold", threshold=0.9, grow=False))
    assert slow.nfe == 32
    assert fast.nfe < slow.nfe


def test_drafts_stream_after_every_step(engine):
    drafts = []
    cfg = SamplerConfig(schedule="fixed", tokens_per_step=4, grow=False, pad_fills_tail=False)
    res = engine.infill(REQUEST, cfg, on_draft=drafts.append)
    assert len(drafts) == res.steps == 8
    open_counts = [d[0].open_positions for d in drafts]
    assert open_counts == sorted(open_counts, reverse=True) and open_counts[-1] == 0
    assert "\u2591" in drafts[0][0].text and "\u2591" not in drafts[-1][0].text


def test_should_stop_cancels_between_steps(engine):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(DenoiseCancelled):
        engine.infill(REQUEST, SamplerConfig(schedule="fixed"), should_stop=stop)
    assert len(calls) == 3


def test_remasking_reopens_weak_tokens(engine):
    res = engine.infill(REQUEST, SamplerConfig(remask_below=1.01, remask_rounds=1, grow=False))
    assert res.remasked > 0  # every committed position scores below 1.01, so each is reopened once


def test_repair_keeps_likely_tokens(engine):
    request = InfillRequest("def add(a, b):\n    ", "\n", span="return a + b")
    res = engine.repair(request, SamplerConfig(), bound=0.0)  # nothing is weaker than 0: nothing changes
    assert res.text == "return a + b" and res.remasked == 0


def test_span_grows_when_budget_is_used_up_with_a_weak_tail(engine):
    # Random weights give near-uniform predictions: never a confident tail, rarely a pad, so the span must grow.
    torch.manual_seed(0)
    net = Denoiser(engine.net.cfg).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.02)
    row = Row(prefix=[engine.special.bos] + engine.tok.encode("x = "), suffix=[engine.special.eos], span=[engine.special.mask] * 4)
    (res,) = Sampler(net, engine.special, SamplerConfig(schedule="fixed", tokens_per_step=4, max_budget=16)).run([row])
    assert res.grown > 0
    assert len(row.span) <= 16


def test_batch_matches_single_requests_without_cache(engine):
    requests = [
        REQUEST,
        InfillRequest("import os\n\n\ndef main():\n    ", "\n", single_line=True),
        InfillRequest("x = [1, 2, 3]\nfor item in x:\n    ", "\nprint('done')\n", single_line=True),
    ]
    cfg = SamplerConfig(schedule="fixed", tokens_per_step=2, use_cache=False, grow=False)
    single = [engine.infill(r, cfg).text for r in requests]
    batched = [r.text for r in engine.infill_batch(requests, cfg)]
    assert batched == single


def test_a_pad_closes_every_later_open_position(engine):
    sampler = Sampler(engine.net, engine.special, SamplerConfig())
    pad, mask = engine.special.pad, engine.special.mask
    current = torch.tensor([[5, mask, mask, mask, mask], [mask, mask, mask, 7, pad]])
    tokens = torch.tensor([[9, 9, pad, 9, 9], [4, 4, 4, 4, 4]])
    is_open = current == mask
    commit = torch.tensor([[False, False, True, False, False], [True, False, False, False, False]])
    in_span = torch.ones_like(is_open)
    commit, tokens = sampler._fill_after_pad(commit, tokens, current, is_open, in_span)
    assert commit[0].tolist() == [False, False, True, True, True] and tokens[0, 3:].tolist() == [pad, pad]
    assert commit[1].tolist() == [True, False, False, False, False]  # the pad sits after every open position


def test_a_line_break_closes_the_rest_of_a_one_line_row_only(engine):
    breaks = torch.zeros(engine.net.cfg.vocab_size, dtype=torch.bool)
    breaks[9] = True
    sampler = Sampler(engine.net, engine.special, SamplerConfig(), line_breaks=breaks)
    sampler._one_line = torch.tensor([True, False])
    mask = engine.special.mask
    current = torch.full((2, 5), mask)
    tokens = torch.tensor([[4, 9, 4, 4, 4], [4, 9, 4, 4, 4]])
    commit = torch.tensor([[False, True, False, False, False]] * 2)
    is_open = current == mask
    commit, tokens = sampler._fill_after_pad(commit, tokens, current, is_open, torch.ones_like(is_open))
    assert commit[0].tolist() == [False, True, True, True, True]
    assert tokens[0, 2:].tolist() == [engine.special.pad] * 3
    assert commit[1].tolist() == [False, True, False, False, False]  # a multi-line row goes on past the break


def test_engine_marks_line_break_tokens(engine):
    texts = engine.tok.token_texts()
    table = engine.line_breaks
    assert table.any() and all(("\n" in texts[i] or "\r" in texts[i]) == bool(table[i]) for i in range(len(texts)))


def test_a_pad_run_closes_back_to_the_first_position_not_read_as_pad(engine):
    sampler = Sampler(engine.net, engine.special, SamplerConfig(pad_run_above=0.5))
    pad = engine.special.pad
    tokens = torch.tensor([[4, 4, 4, 4, pad, pad], [4, 4, 4, 4, 0, 0], [4, 4, 4, 4, pad, 4]])
    commit = torch.tensor([[False, False, False, False, True, True], [False] * 6, [False, False, False, False, True, False]])
    is_open = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] * 6])
    in_span = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] * 6])
    pad_p = torch.tensor([[0.1, 0.6, 0.2, 0.6, 0.9, 0.9], [0.1, 0.2, 0.9, 0.8, 0, 0], [0.1, 0.1, 0.1, 0.4, 0.9, 0.1]])
    token_p = torch.zeros(3, 6)
    commit, tokens, token_p = sampler._close_pad_run(commit, tokens, token_p, is_open, in_span, pad_p)
    assert commit[0].tolist() == [False, False, False, True, True, True]  # position 2 is not read as pad: stop
    assert commit[1].tolist() == [False, False, True, True, False, False]  # the span's end closes like a pad
    assert commit[2].tolist() == [False, False, False, False, True, False]  # 0.4 < 0.5: nothing more
    assert tokens[0, 3] == pad and tokens[1, 2] == pad and token_p[1, 2] == pytest.approx(0.9)


def test_pad_runs_end_short_spans_in_fewer_steps(engine):
    """Holes the model reads as (nearly) empty finish in fewer model calls."""
    from model.heldout import held_out_files, make_cases

    cases = make_cases(held_out_files(), "line", 12, seed=2, tok=engine.tok)
    plain = [engine.infill(c.request, SamplerConfig(pad_run_above=0.0)) for c in cases]
    runs = [engine.infill(c.request, SamplerConfig(pad_run_above=0.5)) for c in cases]
    assert sum(r.nfe for r in runs) < sum(r.nfe for r in plain)


def test_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match="unknown schedule"):
        SamplerConfig(schedule="spiral")


def test_repair_batch_matches_one_repair_at_a_time(engine):
    requests = [
        InfillRequest("def add(a, b):\n    ", "\n", "retrun a + b"),
        InfillRequest("import os\n\n\ndef main():\n    ", "\n", "prnt(os.getcwd())"),
        InfillRequest("x = [1, 2, 3]\n", "\n", "for item in x:\n    print(itme)"),
    ]
    cfg = SamplerConfig(use_cache=False)
    single = [engine.repair(r, cfg, bound=0.2) for r in requests]
    batched = engine.repair_batch(requests, cfg, bound=0.2)
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.remasked for r in batched] == [r.remasked for r in single]


def steps_of(engine, cfg, budget=24):
    """Span ids after every step of one denoising run of REQUEST."""
    seen = []
    row = engine.make_row(REQUEST, budget)
    Sampler(engine.net, engine.special, cfg).run([row], on_step=lambda r: seen.append(r.spans[0]))
    return seen


def test_pad_at_the_frontier_keeps_every_step_right_padded(engine):
    pad, mask = engine.special.pad, engine.special.mask
    cfg = SamplerConfig(schedule="fixed", tokens_per_step=2, use_cache=False, pad_run_above=0.0, pad_at_frontier=True)
    seen = steps_of(engine, cfg)
    assert seen[-1].count(mask) == 0
    for span in seen:
        first_pad = span.index(pad) if pad in span else len(span)
        assert mask not in span[:first_pad + 1] or first_pad == len(span)  # a pad only after committed tokens
        assert set(span[first_pad:]) <= {pad}  # and nothing real after it


def test_the_frontier_may_not_be_pad_before_a_committed_token(engine):
    sampler = Sampler(engine.net, engine.special, SamplerConfig(pad_at_frontier=True))
    pad, mask = engine.special.pad, engine.special.mask
    current = torch.tensor([[5, mask, 7, mask], [5, mask, mask, pad]])
    is_open = current == mask
    offsets = torch.arange(4)[None, :]
    forbidden = sampler._pad_forbidden(current, is_open, torch.ones_like(is_open), offsets)
    assert forbidden.tolist() == [[False, True, False, False], [False, False, False, False]]


def test_a_window_commits_only_among_the_first_open_positions(engine):
    pad, mask = engine.special.pad, engine.special.mask
    cfg = SamplerConfig(schedule="fixed", tokens_per_step=8, use_cache=False, grow=False, pad_run_above=0.0, window=3)
    before = [mask] * 24
    for span in steps_of(engine, cfg):
        open_before = [j for j, t in enumerate(before) if t == mask]
        new_real = [j for j, t in enumerate(span) if before[j] == mask and t not in (mask, pad)]
        assert set(new_real) <= set(open_before[:3])
        before = span
    assert mask not in before and any(t not in (mask, pad) for t in before)
