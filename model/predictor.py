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

    def keep_rows(self, index: torch.Tensor) -> Layout:
        """Go on with only the rows at `index` (finished rows leave the batch); returns their layout.

        The cached context is sliced, not recomputed, so dropping rows costs no model call; both the ids and the
        context are trimmed to the longest remaining row.
        """
        lay = self.layout
        lengths = lay.lengths[index]
        width = int(lengths.max())
        self.layout = Layout(lay.ids[index, :width].clone(), lengths, lay.starts[index], lay.spans[index])
        if self.context is not None:
            valid = self.context_valid[index]
            keep = int(valid.sum(1).max())
            self.context = [LayerKV(c.k[index, :, :keep], c.v[index, :, :keep]) for c in self.context]
            self.context_valid = valid[:, :keep]
        return self.layout

    def _offsets(self, width: int) -> torch.Tensor:
        return torch.arange(width, device=self.layout.ids.device)[None, :]

    def _read_index(self) -> torch.Tensor:
        """Position whose logits predict span offset j: start + j - shift, clamped into the row."""
        s = int(self.layout.spans.max())
        idx = self.layout.starts[:, None] - self.shift + self._offsets(s)
        return idx.clamp(0, self.layout.ids.shape[1] - 1)

    def _full(self, ids: torch.Tensor, wanted: torch.Tensor | None) -> torch.Tensor:
        lay = self.layout
        valid = lay.key_valid
        key_mask = None if bool(valid.all()) else valid
        # The output head runs only where logits are read: most of the sequence is context.
        read = self._read_index()
        select = None
        if wanted is not None:  # the positions reading wanted offsets, as a (B, T) mask (row-major order kept)
            select = torch.zeros_like(ids, dtype=torch.bool)
            select.scatter_(1, read, wanted[:, : read.shape[1]])
        out = self.net(ids, key_mask=key_mask, return_kv=self.use_cache, read_index=read, select=select)
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

    def _span_only(self, ids: torch.Tensor, wanted: torch.Tensor | None) -> torch.Tensor:
        idx, valid = self._active_index()
        key_mask = torch.cat([self.context_valid, valid], dim=1)
        if bool(key_mask.all()):
            key_mask = None
        select = None
        if wanted is not None:  # active offset j predicts span offset j
            select = torch.zeros_like(idx, dtype=torch.bool)
            select[:, : wanted.shape[1]] = wanted
        out = self.net(ids.gather(1, idx), position_ids=idx, context=self.context, key_mask=key_mask, select=select)
        return out.logits if wanted is not None else out.logits[:, : int(self.layout.spans.max())]

    @torch.inference_mode()
    def __call__(self, ids: torch.Tensor, wanted: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, S, V) for every span offset, or (N, V) for the `wanted` (B, S) offsets in row-major order.

        Asking only for the offsets still masked skips the output head (a quarter of this model's weights) and
        the softmax over the vocabulary for every committed token.
        """
        self.nfe += 1
        stale = self.refresh_every and self.calls_since_refresh >= self.refresh_every
        if not self.use_cache or self.context is None or stale:
            return self._full(ids, wanted)
        self.calls_since_refresh += 1
        return self._span_only(ids, wanted)
