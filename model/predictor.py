"""Logits for the span positions of a batch, with the unchanged context's keys/values cached across steps.

Each row holds one contiguous span `[start, start + length)` between its prefix and suffix. Without the cache
every call runs the whole sequence. With it, a full pass stores the keys/values of the context positions once;
later calls run only the span (plus one position before it when the family reads logits shifted by one) and
attend to the stored context. The context's keys were computed while the span held other tokens, so the cache is
approximate; `refresh_every` bounds how stale it gets (0: never refresh until the layout changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model.network import Denoiser, LayerKV


@dataclass
class Layout:
    """Where each row's span lies: ids (B, T), row lengths, span starts and lengths (B,)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    starts: torch.Tensor
    spans: torch.Tensor

    @property
    def key_valid(self) -> torch.Tensor:
        t = self.ids.shape[1]
        return torch.arange(t, device=self.ids.device)[None, :] < self.lengths[:, None]  # (B, T)


def gather_kv(kv: list[LayerKV], index: torch.Tensor) -> list[LayerKV]:
    """Pick positions `index` (B, N) out of every layer's (B, H, T, D) keys and values."""
    out = []
    for layer in kv:
        b, h, _, d = layer.k.shape
        idx = index[:, None, :, None].expand(b, h, index.shape[1], d)
        out.append(LayerKV(layer.k.gather(2, idx), layer.v.gather(2, idx)))
    return out


class SpanPredictor:
    """Callable returning logits (B, S, V) for span offsets 0..S-1 of every row (S = longest span)."""

    def __init__(self, net: Denoiser, use_cache: bool, refresh_every: int = 0):
        self.net = net
        self.shift = 1 if net.cfg.logit_shift else 0
        self.use_cache = use_cache
        self.refresh_every = refresh_every
        self.layout: Layout | None = None
        self.context: list[LayerKV] | None = None
        self.calls_since_refresh = 0
        self.nfe = 0  # forward passes run, full or span-only

    def reset(self, layout: Layout) -> None:
        """A new layout (new rows, or a span that grew): the cached context no longer applies."""
        self.layout = layout
        self.context = None

    def _offsets(self, width: int) -> torch.Tensor:
        return torch.arange(width, device=self.layout.ids.device)[None, :]

    def _read_index(self) -> torch.Tensor:
        """Position whose logits predict span offset j: start + j - shift, clamped into the row."""
        s = int(self.layout.spans.max())
        idx = self.layout.starts[:, None] - self.shift + self._offsets(s)
        return idx.clamp(0, self.layout.ids.shape[1] - 1)

    def _full(self, ids: torch.Tensor) -> torch.Tensor:
        lay = self.layout
        valid = lay.key_valid
        key_mask = None if bool(valid.all()) else valid
        # The output head runs only where logits are read: most of the sequence is context.
        out = self.net(ids, key_mask=key_mask, return_kv=self.use_cache, read_index=self._read_index())
        if self.use_cache:
            self._store_context(out.kv)
        return out.logits

    def _active_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        lay = self.layout
        width = int((lay.spans + self.shift).max())
        idx = lay.starts[:, None] - self.shift + self._offsets(width)
        valid = self._offsets(width) < (lay.spans + self.shift)[:, None]
        return idx.clamp(0, lay.ids.shape[1] - 1), valid

    def _store_context(self, kv: list[LayerKV]) -> None:
        """Keep keys/values of every real position outside the active window, left-packed per row."""
        lay = self.layout
        t = lay.ids.shape[1]
        pos = self._offsets(t).expand(lay.ids.shape[0], t)
        lo = (lay.starts - self.shift)[:, None]
        hi = (lay.starts + lay.spans)[:, None]
        keep = ((pos < lo) | (pos >= hi)) & lay.key_valid  # (B, T)
        width = int(keep.sum(1).max())
        # Stable sort puts kept positions first, in order; the tail is padding marked invalid.
        order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices[:, :width]
        self.context = gather_kv(kv, order)
        self.context_valid = keep.gather(1, order)
        self.calls_since_refresh = 0

    def _span_only(self, ids: torch.Tensor) -> torch.Tensor:
        idx, valid = self._active_index()
        key_mask = torch.cat([self.context_valid, valid], dim=1)
        if bool(key_mask.all()):
            key_mask = None
        out = self.net(ids.gather(1, idx), position_ids=idx, context=self.context, key_mask=key_mask)
        return out.logits[:, : int(self.layout.spans.max())]  # active offset j predicts span offset j

    @torch.inference_mode()
    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        stale = self.refresh_every and self.calls_since_refresh >= self.refresh_every
        if not self.use_cache or self.context is None or stale:
            return self._full(ids)
        self.calls_since_refresh += 1
        return self._span_only(ids)
