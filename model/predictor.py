"""Logits for the span positions of a batch, with the unchanged context's keys/values cached across steps.

Each row holds one contiguous span `[start, start + length)` between its prefix and suffix. Without the cache
every call runs the whole sequence. With it, a full pass stores the keys/values of the context positions once;
later calls run only the span (plus one position before it when the family reads logits shifted by one) and
attend to the stored context. The context's keys were computed while the span held other tokens, so the cache is
approximate; `refresh_every` bounds how stale it gets (0: never refresh until the layout changes).

Block-diffusion checkpoints (`cfg.block_size` > 0) are run block-causally instead: position p lies in block
(p + o) // block_size of its row (`block_origin`: o is 0, blocks counted from the row's first token as SDAR's
sampler does, or, with `cfg.block_from_span`, whatever makes the span start a block, as dllm's BD3LM sampler gets
by left-padding the prompt), attends to every
position of its own block and of earlier blocks, never to a later one. The sampler denoises one block at a time, so
every position before the current block is committed for good, and its keys/values cannot depend on anything after
it: the cache holds exactly those positions and is exact. A step runs only the current block (plus the position
before it for shift families), and the block that has just completed is appended to the cache in the same pass.
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


def block_origin(starts: torch.Tensor, block: int, from_span: bool) -> torch.Tensor:
    """(B, 1) offset o per row such that position p lies in block (p + o) // block: 0, or the shift that makes
    each row's span start (`starts`, (B,)) a block of its own."""
    if not from_span:
        return torch.zeros_like(starts)[:, None]
    return ((-starts) % block)[:, None]


def block_causal_mask(q_pos: torch.Tensor, k_pos: torch.Tensor, k_ok: torch.Tensor, block: int) -> torch.Tensor:
    """(B, 1, Tq, Tk) bool: query at q_pos (B, Tq) may see key at k_pos (B, Tk) when the key is real (`k_ok`) and
    its block (pos // block) is not after the query's."""
    return ((k_pos[:, None, :] // block) <= (q_pos[:, :, None] // block))[:, None] & k_ok[:, None, None, :]


def mark(shape: tuple[int, int], index: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """(B, T) bool, True at index[b, j] where wanted[b, j]: only wanted entries are written, so clamped indices of
    unwanted ones cannot clear a wanted position."""
    out = torch.zeros(shape, dtype=torch.bool, device=index.device)
    rows = torch.arange(shape[0], device=index.device)[:, None].expand_as(index)
    out[rows[wanted], index[wanted]] = True
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
        self.block = net.cfg.block_size  # > 0: block-causal attention and the exact prefix cache
        self.block_from_span = net.cfg.block_from_span

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
        if self.block:
            return self._block_call(ids, wanted)
        stale = self.refresh_every and self.calls_since_refresh >= self.refresh_every
        if not self.use_cache or self.context is None or stale:
            return self._full(ids, wanted)
        self.calls_since_refresh += 1
        return self._span_only(ids, wanted)

    # --- block-causal checkpoints ------------------------------------------------------------------------------
    def _block_call(self, ids: torch.Tensor, wanted: torch.Tensor | None) -> torch.Tensor:
        """Block-causal logits: the cached block step when the wanted offsets lie in one block per row (what the
        sampler asks), else a full block-causal pass (no cache: scoring, or `use_cache` off)."""
        if not self.use_cache or wanted is None:
            return self._block_full(ids, wanted)
        bounds = self._current_block(wanted)
        if bounds is None:
            return self._block_full(ids, wanted)
        return self._block_step(ids, wanted, *bounds)

    def _origin(self) -> torch.Tensor:
        return block_origin(self.layout.starts, self.block, self.block_from_span)

    def _block_full(self, ids: torch.Tensor, wanted: torch.Tensor | None) -> torch.Tensor:
        """The whole row under the block-causal mask; nothing is cached."""
        lay = self.layout
        t = ids.shape[1]
        pos = self._offsets(t).expand(ids.shape[0], t) + self._origin()
        mask = block_causal_mask(pos, pos, lay.key_valid, self.block)
        read = self._read_index()
        select = None if wanted is None else mark(ids.shape, read, wanted[:, : read.shape[1]])
        return self.net(ids, attn_mask=mask, read_index=read, select=select).logits

    def _current_block(self, wanted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per row: start and end of the block holding the first wanted offset; None when some wanted offset lies
        outside that block, which the cached step cannot serve. A row that wants nothing is complete (the sampler
        asks for every open position of the current block): its last block is taken."""
        lay = self.layout
        offsets = self._offsets(wanted.shape[1])
        first = torch.where(wanted, offsets, torch.full_like(offsets, wanted.shape[1])).min(1).values
        origin = self._origin()[:, 0]
        pos = torch.where(wanted.any(1), lay.starts + first, lay.lengths - 1)
        start = ((pos + origin) // self.block * self.block - origin).clamp(min=0)
        end = torch.minimum(start + self.block, lay.lengths)
        pos = lay.starts[:, None] + offsets
        if bool((wanted & ((pos < start[:, None]) | (pos >= end[:, None]))).any()):
            return None
        return start, end

    def _block_step(self, ids, wanted, block_start, block_end) -> torch.Tensor:
        """Run positions [lo, block_end) of each row against the cached prefix [0, cached) and return the wanted
        offsets' logits; then extend the cache to the current block's start.

        lo is the earlier of the cache's end and the position before the block that a shift family reads: a block
        that has just completed is run once more (now final) and appended. A position run again although cached
        is only a query: its fresh key is hidden and the cached copy is seen instead.
        """
        lay = self.layout
        b = ids.shape[0]
        if self.context is None:
            self.context_valid = torch.zeros((b, 0), dtype=torch.bool, device=ids.device)
        cached = self.context_valid.sum(1)  # (B,): the cache holds positions [0, cached) of each row
        lo = torch.minimum(cached, (block_start - self.shift).clamp(min=0))
        width = int((block_end - lo).max())
        offsets = self._offsets(width)
        pos = lo[:, None] + offsets  # (B, W) absolute positions run this step
        real = offsets < (block_end - lo)[:, None]
        idx = pos.clamp(max=ids.shape[1] - 1)
        numbered = pos + self._origin()
        fresh = block_causal_mask(numbered, numbered, real & (pos >= cached[:, None]), self.block)  # (B, 1, W, W)
        old = self.context_valid[:, None, None, :].expand(b, 1, width, self.context_valid.shape[1])
        mask = torch.cat([old, fresh], dim=3)
        read = lay.starts[:, None] - self.shift + self._offsets(wanted.shape[1]) - lo[:, None]  # into the window
        select = mark((b, width), read, wanted)
        out = self.net(
            ids.gather(1, idx), position_ids=idx, context=self.context, attn_mask=mask, select=select, return_kv=True
        )
        self._extend_cache(out.kv, lo, block_start)
        return out.logits

    def _extend_cache(self, kv: list[LayerKV], lo: torch.Tensor, upto: torch.Tensor) -> None:
        """The cache becomes positions [0, upto) of each row: the old entries, then the fresh ones from lo on."""
        old_width = self.context_valid.shape[1]
        cached = self.context_valid.sum(1)
        width = int(upto.max())
        p = self._offsets(width)
        index = torch.where(p < cached[:, None], p, old_width + p - lo[:, None])
        index = index.clamp(0, old_width + kv[0].k.shape[2] - 1)
        joined = kv
        if self.context is not None:
            joined = [LayerKV(torch.cat([c.k, f.k], 2), torch.cat([c.v, f.v], 2)) for c, f in zip(self.context, kv)]
        self.context = gather_kv(joined, index)
        self.context_valid = p < upto[:, None]
