"""Training recipes for the embedded model: which objective each stretch of a run trains, by tokens seen.

Four recipes share one training loop (`model.train`):

- `mdlm`: masked diffusion from scratch (MDLM/LLaDA bound) with short-window and mask-ratio curricula, one
  hole per infill row. The recipe of runs 1-4.
- `ar_adapt`: left-to-right pre-training first (causal attention, next-token loss on every position), then the
  DiffuLLaMA adaptation: logits read shifted by one (the output at i-1 predicts token i, so the left-to-right
  head keeps its meaning), attention opened from causal to bidirectional over `anneal_tokens`, then the
  masked-diffusion loss. A small model learns far more per token from next-token prediction, where every
  position carries loss, than from masked diffusion.
- `ar_adapt_dense_edits`: `ar_adapt_dense` where a tenth of the infill rows show edit history above their
  hole (`# edit: old -> new`, model/edit_examples.py), for next-edit suggestions.
- `ar_adapt_dense`: `ar_adapt` whose infill rows hold several holes each. One hole of 10-20 tokens in a
  128-512-token row leaves most of the row's compute without loss; several holes per row multiply the loss
  tokens per step for the same compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Recipe:
    name: str
    ar_tokens: int = 0  # left-to-right pre-training before any diffusion (0: diffusion from the start)
    anneal_tokens: int = 0  # after it, attention opens from causal to bidirectional over this many tokens
    holes_per_row: tuple[int, int] = (1, 1)  # infill rows: fewest and most holes
    # Curricula of the from-scratch recipe (see TrainConfig); a left-to-right start has no use for them.
    curricula: bool = True
    # Read position i's prediction at i-1, as a left-to-right model does: recipes that start left to right.
    logit_shift: bool = False
    # Share of infill rows that carry edit history above their hole (model/edit_examples.py): the model learns
    # to continue a change the user made elsewhere, for next-edit suggestions.
    edit_share: float = 0.0

    def in_ar_phase(self, tokens_seen: int) -> bool:
        return tokens_seen < self.ar_tokens

    def open_share(self, tokens_seen: int) -> float:
        """Share of the non-causal attention links open at this point (1: fully bidirectional)."""
        if self.anneal_tokens <= 0:
            return 1.0
        return min(1.0, max(0.0, (tokens_seen - self.ar_tokens) / self.anneal_tokens))


RECIPES = {
    "mdlm": Recipe("mdlm"),
    "ar_adapt": Recipe("ar_adapt", ar_tokens=2_000_000, anneal_tokens=500_000, curricula=False, logit_shift=True),
    "ar_adapt_dense": Recipe(
        "ar_adapt_dense", ar_tokens=2_000_000, anneal_tokens=500_000, holes_per_row=(3, 8), curricula=False,
        logit_shift=True,
    ),
    # ar_adapt_dense with a tenth of its infill rows showing edit history: the chosen recipe from session 17 on.
    "ar_adapt_dense_edits": Recipe(
        "ar_adapt_dense_edits", ar_tokens=2_000_000, anneal_tokens=500_000, holes_per_row=(3, 8), curricula=False,
        logit_shift=True, edit_share=0.1,
    ),
}


def attention_mask(length: int, open_share: float, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """(1, 1, T, T) bool: causal links always, each other link open with probability `open_share`.

    None when attention is fully bidirectional. DiffuLLaMA anneals the same way: a query sees the past, and a
    growing random share of the future, so the model is never asked to use a whole new context at once.
    """
    if open_share >= 1.0:
        return None
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    if open_share > 0.0:
        causal |= torch.rand(length, length, generator=generator) < open_share
    return causal[None, None]


def shift_selection(masked: torch.Tensor) -> torch.Tensor:
    """Positions whose outputs predict the masked tokens when logits are read shifted by one (i-1 for i)."""
    select = torch.zeros_like(masked)
    select[:, :-1] = masked[:, 1:]
    return select
