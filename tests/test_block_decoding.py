"""Block diffusion decoding (issue 12): block-causal attention, block-by-block denoising, the exact block cache,
and the fill-in-the-middle layout for the suffix.

Tiny random checkpoints in SDAR's (Qwen3 body, block 4, no shift) and Fast-dLLM v2's (Qwen2.5 body, block 32,
token shift) published layouts are written by tests/fixtures/checkpoints.py and loaded through `model.load`, and a
dllm Tiny-A2D BD3LM one (`a2d-qwen3`, blocks that start at the span, as dllm's sampler left-pads the prompt).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fixtures.checkpoints import (
    FAST_DLLM_MASK,
    QWEN3_SPECIALS,
    QWEN25_SPECIALS,
    QWEN_NAMED,
    SDAR_MASK,
    qwen2_config,
    qwen3_config,
    write_a2d,
    write_fast_dllm,
    write_qwen_family,
    write_sdar,
)

import model
from model.predictor import SpanPredictor
from model.sampler import Row, Sampler, SamplerConfig, build_layout

ATOL = 1e-4
FIM = {151659: "<|fim_prefix|>", 151660: "<|fim_middle|>", 151661: "<|fim_suffix|>"}  # Qwen2.5 / Qwen3 ids
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def write_sdar_with_fim(folder: Path) -> Path:
    """SDAR's layout (as tests/fixtures/checkpoints.py writes it) with a tokenizer that has the FIM tokens."""
    cfg = qwen3_config(
        model_type="sdar", architectures=["SDARForCausalLM"], block_size=4, mask_token_id=151669,
        tie_word_embeddings=False,
    )
    return write_qwen_family(folder, cfg, {**QWEN3_SPECIALS, **SDAR_MASK, **FIM}, QWEN_NAMED, instruct=True)


def write_a2d_bd3lm(folder: Path) -> Path:
    """A Tiny-A2D BD3LM conversion with a block size of 4 in its config (the released ones name none, and get 32
    from the `bd3lm` in their name: tests/test_families.py), so that a short span crosses blocks."""
    write_a2d(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "block_size": 4}))
    return folder


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> dict[str, model.Engine]:
    root = tmp_path_factory.mktemp("hub")
    writers = {
        "sdar": write_sdar, "fast-dllm-v2": write_fast_dllm, "sdar-fim": write_sdar_with_fim, "a2d-bd3lm": write_a2d_bd3lm
    }
    return {name: model.load(w(root / name), device="cpu", dtype="float32") for name, w in writers.items()}


def origin(net, starts: torch.Tensor) -> torch.Tensor:
    """(B, 1): what is added to a position before dividing by the block size; for span-aligned blocks, the
    left padding that would make the span start a block."""
    block = net.cfg.block_size
    pad = (block - starts % block) % block if net.cfg.block_from_span else torch.zeros_like(starts)
    return pad[:, None]


def reference_logits(net, layout, wanted: torch.Tensor) -> torch.Tensor:
    """A full pass over every row under the block-causal mask, written out here: key k is seen from query q when
    (k + o) // block <= (q + o) // block and k is inside the row. Logits of the wanted span offsets (N, V)."""
    block, shift = net.cfg.block_size, int(net.cfg.logit_shift)
    b, t = layout.ids.shape
    pos = torch.arange(t)[None, :] + origin(net, layout.starts)  # (B, T)
    mask = (pos[:, None, :] // block <= pos[:, :, None] // block)[:, None] & (
        torch.arange(t)[None, :] < layout.lengths[:, None]
    )[:, None, None]
    with torch.no_grad():
        logits = net(layout.ids, attn_mask=mask).logits
    rows = []
    for i in range(b):
        for j in wanted[i].nonzero()[:, 0].tolist():
            rows.append(logits[i, int(layout.starts[i]) + j - shift])
    return torch.stack(rows)


def current_block(layout, mask_id: int, block: int, shift: torch.Tensor | int = 0) -> torch.Tensor:
    """(B, S): the open span offsets of each row's current block (that of its first open position); `shift`: the
    rows' `origin`."""
    s = int(layout.spans.max())
    offsets = torch.arange(s)[None, :]
    pos = layout.starts[:, None] + offsets + shift
    span = layout.ids.gather(1, (pos - shift).clamp(max=layout.ids.shape[1] - 1))
    is_open = (span == mask_id) & (offsets < layout.spans[:, None])
    first = torch.where(is_open, pos, torch.full_like(pos, 10**9)).min(1, keepdim=True).values
    return is_open & (pos // block == first // block)


# --- (1) the cached block step is exact -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, prefixes, spans",
    [("sdar", (5, 10), (11, 6)), ("fast-dllm-v2", (40, 21), (70, 50)), ("a2d-bd3lm", (5, 10), (11, 6))],
)
def test_block_step_logits_equal_a_full_block_causal_pass(engines, name, prefixes, spans):
    """Each cached call (first block, steps inside a block, and steps that move to the next block and append the
    finished one to the cache) gives the logits of a full block-causal pass over the same ids."""
    engine = engines[name]
    net, mask, block = engine.net, engine.special.mask, engine.net.cfg.block_size
    gen = torch.Generator().manual_seed(0)
    rows = [
        Row([engine.special.bos] + torch.randint(300, 9000, (n - 1,), generator=gen).tolist(), [], [mask] * m)
        for n, m in zip(prefixes, spans)
    ]
    layout = build_layout(rows, engine.special.pad, CPU)
    predictor = SpanPredictor(net, use_cache=True)
    predictor.reset(layout)
    calls, moves = 0, 0
    while bool((layout.ids == mask).any()):
        wanted = current_block(layout, mask, block, origin(net, layout.starts))
        before = 0 if predictor.context is None else int(predictor.context_valid.sum(1).max())
        got = predictor(layout.ids, wanted)
        torch.testing.assert_close(got, reference_logits(net, layout, wanted), atol=ATOL, rtol=0)
        # The cache holds exactly the blocks before the current one (a finished row: before its last block).
        first_open = torch.where(wanted.any(1), layout.starts + wanted.float().argmax(1), layout.lengths - 1)
        o = origin(net, layout.starts)[:, 0]
        assert predictor.context_valid.sum(1).tolist() == ((first_open + o) // block * block - o).clamp(min=0).tolist()
        moves += int(predictor.context_valid.sum(1).max()) > before
        calls += 1
        # Commit half of the current block's open positions (all of them every third call), random tokens.
        for i in range(len(rows)):
            open_j = wanted[i].nonzero()[:, 0]
            keep = open_j if calls % 3 == 0 else open_j[: max(1, len(open_j) // 2)]
            pos = int(layout.starts[i]) + keep
            layout.ids[i, pos] = torch.randint(300, 9000, (len(pos),), generator=gen)
    assert predictor.nfe == calls and moves >= 2 and calls > moves


# --- (2) the cache changes nothing ---------------------------------------------------------------------------
def decode(engine, requests, cfg: SamplerConfig) -> tuple[list[list[int]], int, list]:
    rows = [engine.make_row(r, 14) for r in requests]
    drafts = []
    sampler = Sampler(engine.net, engine.special, cfg)
    results = sampler.run(rows, on_step=lambda rep: drafts.append(rep.spans))
    return [r.span for r in results], sampler.steps, drafts


REQUESTS = [
    model.InfillRequest("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"),
    model.InfillRequest("import os\n\nx = ", "\n"),
]
CONFIGS = [SamplerConfig(grow=False), SamplerConfig(schedule="fixed", tokens_per_step=3, grow=False)]


@pytest.mark.parametrize("name", ["sdar", "fast-dllm-v2", "a2d-bd3lm"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["threshold", "fixed3"])
def test_decode_with_the_cache_equals_decode_without_it(engines, name, cfg):
    engine = engines[name]
    cached, steps_cached, _ = decode(engine, REQUESTS, cfg)
    plain, steps_plain, _ = decode(engine, REQUESTS, replace(cfg, use_cache=False))
    assert cached == plain and steps_cached == steps_plain
    assert any(t != engine.special.pad for span in cached for t in span)  # real tokens were decoded


# --- (3) blocks in order ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [*CONFIGS, SamplerConfig(threshold=0.0, grow=False)], ids=["threshold", "fixed3", "all"])
def test_no_block_is_committed_before_the_one_in_front_of_it_is_complete(engines, cfg):
    engine = engines["sdar"]
    mask, block = engine.special.mask, engine.net.cfg.block_size
    rows = [engine.make_row(r, 14) for r in REQUESTS]
    starts = [len(r.prefix) for r in rows]
    assert any(s % block for s in starts)  # a span that begins inside a block (shared with the prefix's end)
    _, steps, drafts = decode(engine, REQUESTS, cfg)
    for spans in drafts:
        for start, span in zip(starts, spans):
            blocks = [(start + j) // block for j in range(len(span))]
            for j, t in enumerate(span):
                if t != mask:  # committed: every position of an earlier block is committed too
                    assert all(span[i] != mask for i in range(len(span)) if blocks[i] < blocks[j])
    n_blocks = max(len({(s + j) // block for j in range(14)}) for s in starts)
    if cfg.threshold == 0.0:  # everything in the current block commits at once: one step per block, no more
        assert steps == n_blocks
    else:
        assert steps >= n_blocks
    # The spans of step 1 hold commits in the first block only.
    for start, span in zip(starts, drafts[0]):
        assert all(t == mask for j, t in enumerate(span) if (start + j) // block > start // block)


# --- (4) the suffix ---------------------------------------------------------------------------------------------
def first_block_logits(engine, request) -> torch.Tensor:
    row = engine.make_row(request, 6)
    layout = build_layout([row], engine.special.pad, CPU)
    predictor = SpanPredictor(engine.net, use_cache=True)
    predictor.reset(layout)
    return predictor(layout.ids, current_block(layout, engine.special.mask, engine.net.cfg.block_size))


def test_fim_layout_puts_the_suffix_before_the_span(engines):
    engine = engines["sdar-fim"]
    assert engine.fim_ids == (151659, 151661, 151660) and engine.suffix_note is None
    request = model.InfillRequest("def f(a):\n", "    return a\n")
    row = engine.make_row(request, 6)
    enc = engine.tok.encode
    assert row.prefix == [151659, *enc(request.prefix), 151661, *enc(request.suffix), 151660]
    assert row.suffix == [] and row.span == [engine.special.mask] * 6
    other = first_block_logits(engine, replace(request, suffix="    return a + 1\n"))
    assert (first_block_logits(engine, request) - other).abs().max() > 1e-3  # the suffix reaches the model


def test_without_fim_tokens_the_suffix_is_dropped_with_a_note(engines):
    from lsp_server.server import family_notes

    engine = engines["sdar"]
    assert engine.fim_ids is None and "not given to it" in engine.suffix_note
    request = model.InfillRequest("def f(a):\n", "    return a\n")
    row = engine.make_row(request, 6)
    assert row.suffix == [] and row.prefix == [engine.special.bos, *engine.tok.encode(request.prefix)]
    same = first_block_logits(engine, replace(request, suffix="    return a + 1\n"))
    torch.testing.assert_close(first_block_logits(engine, request), same, atol=0, rtol=0)
    notes = family_notes(engine)
    assert any("block by block" in n for n in notes) and engine.suffix_note in notes
    assert not any("not implemented" in n for n in notes)


def test_shift_family_with_fim_starts_its_row_with_the_fim_prefix(tmp_path):
    cfg = qwen2_config(model_type="Fast_dLLM_Qwen", architectures=["Fast_dLLM_QwenForCausalLM"], bd_size=8)
    folder = write_qwen_family(tmp_path / "fast", cfg, {**QWEN25_SPECIALS, **FAST_DLLM_MASK, **FIM}, QWEN_NAMED)
    engine = model.load(folder, device="cpu", dtype="float32")
    assert engine.net.cfg.logit_shift and engine.net.cfg.block_size == 8
    row = engine.make_row(model.InfillRequest("x = ", "\ny = 2\n"), 4)
    assert row.prefix[0] == 151659 and row.prefix[-1] == 151660 and row.suffix == []
    res = engine.infill(model.InfillRequest("x = ", "\ny = 2\n", budget=4), SamplerConfig(grow=False))
    assert res.steps >= 1


def test_a_pad_closes_later_blocks_only_once_its_own_block_is_complete(tmp_path):
    """Every position favours pad: the first block closes in one step (pad, then the run of likely pads before
    it), and the later blocks, all after a pad, are filled in that same step, not before."""
    engine = model.load(write_sdar(tmp_path / "SDAR-1.7B-Chat"), device="cpu", dtype="float32")
    net, pad = engine.net, engine.special.pad
    with torch.no_grad():  # attention and MLP outputs off; every token's embedding points the head at pad
        for layer in net.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        net.model.embed_tokens.weight.zero_()
        net.model.embed_tokens.weight[:, 0] = 1.0
        net.lm_head.weight.zero_()
        net.lm_head.weight[pad, 0] = 10.0
    spans, steps, drafts = decode(engine, REQUESTS[:1], SamplerConfig(grow=False))
    assert spans == [[]] and steps == 1
    assert all(t == pad for t in drafts[0][0])


def test_span_aligned_blocks_start_at_the_span(engines):
    """dllm's BD3LM sampler left-pads the prompt to a block boundary: the span's first block is all span, so with
    everything in a block committed at once, 14 positions take ceil(14 / 4) = 4 steps whatever the prefix."""
    engine = engines["a2d-bd3lm"]
    mask = engine.special.mask
    assert engine.net.cfg.block_from_span and engine.net.cfg.block_size == 4
    assert any(len(engine.make_row(r, 14).prefix) % 4 for r in REQUESTS)  # the prefix ends inside a block
    _, steps, drafts = decode(engine, REQUESTS, SamplerConfig(threshold=0.0, grow=False))
    assert steps == 4
    for span in drafts[0]:
        assert all(t != mask for t in span[:4]) and all(t == mask for t in span[4:])


def test_fast_dllm_commits_sub_blocks_of_eight_left_to_right(engines):
    """Fast-dLLM v2 decodes a 32-token block as four sub-blocks of 8 (its generate()'s `small_block_size`): with
    everything eligible committed at once, one step per sub-block that the span touches, in order."""
    engine = engines["fast-dllm-v2"]
    mask = engine.special.mask
    assert (engine.net.cfg.block_size, engine.net.cfg.sub_block_size) == (32, 8)
    starts = [len(engine.make_row(r, 14).prefix) for r in REQUESTS]
    _, steps, drafts = decode(engine, REQUESTS, SamplerConfig(threshold=0.0, grow=False))
    assert steps == max(len({(s + j) // 8 for j in range(14)}) for s in starts)
    for start, span in zip(starts, drafts[0]):
        assert all((t != mask) == ((start + j) // 8 == start // 8) for j, t in enumerate(span))
