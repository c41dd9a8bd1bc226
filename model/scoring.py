"""Which of two texts the model prefers in a hole: one pass with the hole fully masked, both texts scored on it.

Every position of the hole is masked, as at the first denoising step, and each text (right-padded to the hole's
size) is scored by the sum of its tokens' log-probabilities. One model call judges both, so comparing old and new
text at many places costs one call per place.
"""

from __future__ import annotations

import torch

from model.engine import Engine, InfillRequest


@torch.inference_mode()
def preference(engine: Engine, prefix: str, suffix: str, old: str, new: str, context_tokens: int | None = None) -> float:
    """log p(new) - log p(old), in nats, for the hole between `prefix` and `suffix`."""
    a, b = engine.tok.encode(old), engine.tok.encode(new)
    budget = max(len(a), len(b)) + 1  # room for the closing pad of the longer one
    row = engine.make_row(InfillRequest(prefix, suffix, old), budget, context_tokens)
    mask, pad = engine.special.mask, engine.special.pad
    ids = torch.tensor([row.prefix + [mask] * budget + row.suffix], device=engine.device)
    shift = 1 if engine.net.cfg.logit_shift else 0
    read = torch.arange(budget, device=engine.device)[None] + len(row.prefix) - shift
    logp = engine.net(ids, read_index=read).logits[0].float().log_softmax(-1)
    positions = torch.arange(budget, device=engine.device)

    def score(tokens: list[int]) -> float:
        padded = torch.tensor(tokens + [pad] * (budget - len(tokens)), device=engine.device)
        return float(logp[positions, padded].sum())

    return score(b) - score(a)
