"""Which of two texts the model prefers in a hole: one pass with the hole fully masked, both texts scored on it.

Every position of the hole is masked, as at the first denoising step, and each text (right-padded to the hole's
size) is scored by the sum of its tokens' log-probabilities. One model call judges both, so comparing old and new
text at many places costs one call per place.
"""

from __future__ import annotations

import torch

from model.engine import Engine, InfillRequest


@torch.inference_mode()
def preferences(
    engine: Engine, items: list[tuple[str, str, str, str]], context_tokens: int | None = None
) -> list[float]:
    """log p(new) - log p(old), in nats, for each (prefix, suffix, old, new): the hole between prefix and suffix,
    all holes in one batched model call."""
    if not items:
        return []
    mask, pad = engine.special.mask, engine.special.pad
    rows = []
    for prefix, suffix, old, new in items:
        a, b = engine.tok.encode(old), engine.tok.encode(new)
        budget = max(len(a), len(b)) + 1  # room for the closing pad of the longer one
        row = engine.make_row(InfillRequest(prefix, suffix, old), budget, context_tokens)
        rows.append((row.prefix + [mask] * budget + row.suffix, len(row.prefix), budget, a, b))
    width, span = max(len(r[0]) for r in rows), max(r[2] for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    key_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row_ids, *_) in enumerate(rows):
        ids[i, : len(row_ids)] = torch.tensor(row_ids)
        key_mask[i, : len(row_ids)] = True
    shift = 1 if engine.net.cfg.logit_shift else 0
    starts = torch.tensor([r[1] for r in rows])
    read = (starts[:, None] - shift + torch.arange(span)[None]).clamp(0, width - 1)
    dev = engine.device
    out = engine.net(ids.to(dev), key_mask=None if bool(key_mask.all()) else key_mask.to(dev), read_index=read.to(dev))
    logp = out.logits.float().log_softmax(-1).cpu()  # (B, span, V)
    gains = []
    for i, (_, _, budget, a, b) in enumerate(rows):
        positions = torch.arange(budget)

        def score(tokens: list[int]) -> float:
            padded = torch.tensor(tokens + [pad] * (budget - len(tokens)))
            return float(logp[i, positions, padded].sum())

        gains.append(score(b) - score(a))
    return gains


def preference(engine: Engine, prefix: str, suffix: str, old: str, new: str, context_tokens: int | None = None) -> float:
    """log p(new) - log p(old), in nats, for the hole between `prefix` and `suffix`."""
    return preferences(engine, [(prefix, suffix, old, new)], context_tokens)[0]


def rewrites(
    engine: Engine,
    items: list[tuple[str, str, str]],
    context_tokens: int | None = None,
    should_stop=None,
) -> list[str]:
    """The model's own text for each single-line hole (prefix, suffix, the text there now), denoised in one batch
    with the default sampler: next edits' lines written anew (lsp_server/next_edits.rewritten)."""
    if not items:
        return []
    requests = [InfillRequest(prefix, suffix, old, single_line=True) for prefix, suffix, old in items]
    results = engine.infill_batch(requests, should_stop=should_stop, context_tokens=context_tokens)
    return [r.text for r in results]
