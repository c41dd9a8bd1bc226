"""The denoising loop: fill each row's span of masks, a few tokens per model call.

Token ids in, token ids out; it knows nothing of text. Every step predicts all masked span positions at once and
commits some of them: the k best (fixed schedule) or every one above a threshold (parallel decoding, so easy
spans finish in few steps). Unused budget is filled with pad by the model and dropped. A span that used its whole
budget with weak tokens at its end grows and continues. An optional remasking pass re-opens committed tokens whose
probability, re-scored with the rest of the span visible, falls under a bound (self-correction).

Block-diffusion checkpoints (`cfg.block_size` > 0) are denoised block by block in the same loop: a step predicts
and commits only the open positions of the current block (the block of the row's first open position, blocks
counted from the row's first token, or from the span's for `cfg.block_from_span`; Fast-dLLM v2's sub-block of
it), so the next block starts once the current one is complete; the predictor
runs them block-causally against an exact cache of everything before the block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from model.network import Denoiser
from model.predictor import Layout, SpanPredictor, block_origin
from model.tokenizer import SpecialIds

ORDERS = ("confidence", "margin", "entropy")
SCHEDULES = ("fixed", "threshold")


@dataclass(frozen=True)
class SamplerConfig:
    """How to denoise. Defaults: greedy, threshold decoding with the context cache."""

    schedule: str = "threshold"
    order: str = "confidence"
    tokens_per_step: int = 1  # fixed schedule: commits per step
    threshold: float = 0.9  # threshold schedule: commit every position scoring at least this
    max_steps: int = 0  # 0: no cap; otherwise the schedule commits more per step to finish within it
    temperature: float = 0.0  # 0: greedy
    seed: int = 0
    use_cache: bool = True
    cache_refresh: int = 0  # full pass every k cached steps; 0: only when the layout changes
    grow: bool = True
    max_budget: int = 256
    remask_below: float = 0.0  # self-correction bound; 0 turns the pass off
    remask_rounds: int = 1
    # Repair's rule instead of the bound: a committed token is reopened only when, scored with itself masked, its
    # log-probability is at least this far (in nats) below the best alternative's. None: use `remask_below`.
    remask_margin: float | None = None
    # With the margin rule: a reopened token reopens the whole word it is part of (its sub-word neighbours), plus
    # one spare position after it, so a misspelt word can be re-spelt at another length. Needs `word_pieces`.
    # Off by default: on 70 held-out one-typo lines it fixed 1 where reopening single tokens fixed 2, with the
    # same 4.3% of correct lines changed at margin 8 (`instant-edit eval --gates`, CHANGELOG).
    remask_words: bool = False
    # Spans are trained right-padded, so a pad means every later position is pad too: commit them at once.
    pad_fills_tail: bool = True
    # The first n span positions may not be pad (nor, in a one-line row, a line break): a completion the user
    # asked for explicitly should say something rather than nothing when the model leans towards an empty hole.
    min_tokens: int = 0
    # An ending closes at once: open positions just before the first pad (or the span's end) whose own pad
    # probability is at least this become pad in the same step; 0 turns it off.
    # 0.5 (pad more likely than everything else together) halved model calls on held-out lines with the same
    # exact match (`instant-edit bench`, CHANGELOG).
    pad_run_above: float = 0.5
    # Length is decided left to right: pad may be committed only at the first open position, and only when no
    # real token is committed after it. Committed by confidence anywhere, pads win every early step (the far end
    # of a loose budget is surely pad), then cascade leftwards until a weak model has closed the whole span.
    pad_at_frontier: bool = False
    # Stop a row as soon as it commits a real token with a probability under this: its answer's confidence can
    # no longer reach a floor this high (typing-triggered completions pass their floor; 0: off).
    give_up_below: float = 0.0
    # After the first model call, answer a row empty when its first position ends the text (pad, or a line break
    # in a one-line row) with at least this probability (typing-triggered completions; 0: off). Committed by
    # confidence, an empty answer otherwise takes as many steps as a real one: the pads close from the far end.
    empty_above: float = 0.0
    # Semi-autoregressive window: only the first `window` open positions may be committed (0: the whole span).
    window: int = 0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; choose from {ORDERS}")


@dataclass
class Row:
    """One span being denoised: its context and current span ids (mask where still open)."""

    prefix: list[int]
    suffix: list[int]
    span: list[int]
    confidence: list[float] = field(default_factory=list)  # probability each token had when committed
    grown: int = 0
    one_line: bool = False  # the text is cut at its first line break, so nothing after one needs denoising


@dataclass(frozen=True)
class StepReport:
    step: int
    spans: list[list[int]]  # current span ids per row, masks included
    open_positions: list[int]  # masks left per row


@dataclass(frozen=True)
class DenoiseResult:
    span: list[int]  # final ids, pad dropped
    confidence: list[float]  # per kept token
    steps: int
    grown: int
    remasked: int


class DenoiseCancelled(Exception):
    """Raised when `should_stop` says so between steps."""


def scores(probs: torch.Tensor, order: str) -> torch.Tensor:
    """(.., V) probabilities -> a score in [0, 1] per position; higher commits sooner."""
    if order == "confidence":
        return probs.max(-1).values
    if order == "margin":
        top2 = probs.topk(2, dim=-1).values
        return top2[..., 0] - top2[..., 1]
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1)
    return torch.exp(-entropy)


def first_offset(mask: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """(B, 1): the first offset where `mask` (B, S) holds, or S where it never does."""
    return torch.where(mask, offsets, torch.full_like(offsets, mask.shape[1])).min(1, keepdim=True).values


def build_layout(rows: list[Row], pad: int, device: torch.device) -> Layout:
    seqs = [r.prefix + r.span + r.suffix for r in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, device=device)
    as_tensor = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)
    return Layout(
        ids, as_tensor([len(s) for s in seqs]), as_tensor([len(r.prefix) for r in rows]),
        as_tensor([len(r.span) for r in rows]),
    )


class Sampler:
    """Runs the loop for a batch of rows; one instance per request."""

    def __init__(
        self,
        net: Denoiser,
        special: SpecialIds,
        cfg: SamplerConfig,
        line_breaks: torch.Tensor | None = None,
        word_pieces: tuple[list[bool], list[bool]] | None = None,
    ):
        """`line_breaks`: a (V,) bool table of tokens whose text holds a line break, for one-line rows.
        `word_pieces`: per token id, (text starts with a word character, text ends with one), for `remask_words`."""
        self.word_pieces = word_pieces
        self.net = net
        self.special = special
        self.cfg = cfg
        self.line_breaks = line_breaks
        self._one_line: torch.Tensor | None = None  # (B,) per row of the current layout
        self.predictor = SpanPredictor(net, cfg.use_cache, cfg.cache_refresh)
        self.block = net.cfg.block_size  # > 0: one block at a time (see the module docstring)
        self.block_from_span = net.cfg.block_from_span
        self.commit_unit = net.cfg.sub_block_size or self.block  # what must be complete before the next one opens
        self.generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        self.steps = 0

    # --- one step -----------------------------------------------------------------------------------------
    def _choose_tokens(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token and its probability per position: argmax, or a draw at the configured temperature."""
        if self.cfg.temperature <= 0:
            p, tok = probs.max(-1)
            return tok, p
        tempered = probs.clamp_min(1e-12).log() / self.cfg.temperature
        flat = torch.softmax(tempered, -1).reshape(-1, probs.shape[-1]).cpu()
        tok = torch.multinomial(flat, 1, generator=self.generator).reshape(probs.shape[:-1]).to(probs.device)
        return tok, probs.gather(-1, tok[..., None])[..., 0]

    def _commit_mask(
        self, score: torch.Tensor, is_open: torch.Tensor, steps_left: int | None, n_open: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Which open positions to commit this step (B, S): schedule, step cap, and at least one per row.
        `n_open` (B, 1): positions still to fill within the step cap when not all of them are eligible (blocks)."""
        score = score.masked_fill(~is_open, -1.0)
        rank = score.argsort(dim=1, descending=True).argsort(dim=1)  # 0 = best position of the row
        if n_open is None:
            n_open = is_open.sum(1, keepdim=True)
        if self.cfg.schedule == "fixed":
            commit = rank < self.cfg.tokens_per_step
        else:
            commit = score >= self.cfg.threshold
        commit |= rank == 0  # progress every step
        if steps_left:
            need = torch.ceil(n_open.float() / steps_left).long()
            commit |= rank < need
        return commit & is_open

    def _fill_after_pad(self, commit, tokens, current, is_open, in_span):
        """Positions after the first pad (committed now or before) become pad in the same step.

        In a one-line row a token holding a line break ends the text the same way: what follows it is cut from
        the result, so its positions are closed as pad instead of being denoised for nothing.
        """
        pad = self.special.pad
        closes_now, closed = tokens == pad, current == pad
        if self.line_breaks is not None and self._one_line is not None and bool(self._one_line.any()):
            breaks = self.line_breaks.to(tokens.device)
            closes_now = closes_now | (breaks[tokens] & self._one_line[:, None])
            closed = closed | (breaks[current] & self._one_line[:, None])
        is_pad = in_span & ((commit & closes_now) | closed)
        offsets = torch.arange(is_pad.shape[1], device=is_pad.device)[None, :]
        after = (offsets > first_offset(is_pad, offsets)) & is_open
        return commit | after, torch.where(after, torch.full_like(tokens, pad), tokens)

    def _close_pad_run(self, commit, tokens, token_p, is_open, in_span, pad_p):
        """Close the run of likely-pad positions that ends at the first pad (or at the span's end).

        Spans are right-padded, so these positions can only be pad if the one after them is. Committed by
        confidence they would close one per step, right to left; this commits the run in one step, stopping at
        the first position the model does not read as pad.
        """
        pad = self.special.pad
        offsets = torch.arange(commit.shape[1], device=commit.device)[None, :]
        ends = (commit & (tokens == pad)) | (~is_open & (tokens == pad)) | ~in_span
        likely = is_open & ~commit & (pad_p >= self.cfg.pad_run_above)
        before = offsets < first_offset(ends, offsets)
        last_blocker = torch.where(before & ~likely, offsets, torch.full_like(offsets, -1)).max(1, keepdim=True).values
        run = before & (offsets > last_blocker) & likely
        return commit | run, torch.where(run, torch.full_like(tokens, pad), tokens), torch.where(run, pad_p, token_p)

    def _pad_forbidden(self, current, is_open, in_span, offsets) -> torch.Tensor:
        """(B, S): the first open position may not be pad when a real token is already committed after it."""
        frontier = first_offset(is_open, offsets)
        real = in_span & ~is_open & (current != self.special.pad)
        last_real = torch.where(real, offsets, torch.full_like(offsets, -1)).max(1, keepdim=True).values
        return (offsets == frontier) & (last_real > frontier)

    def _eligible(self, is_open, tokens, offsets) -> torch.Tensor:
        """Open positions that may be committed this step (see `pad_at_frontier` and `window`)."""
        eligible = is_open
        if self.cfg.pad_at_frontier:
            eligible = eligible & ~((tokens == self.special.pad) & (offsets > first_offset(is_open, offsets)))
        if self.cfg.window:
            rank = is_open.long().cumsum(1)  # 1 = first open position
            eligible = eligible & (rank <= self.cfg.window)
        return eligible

    def _give_up(self, commit, tokens, token_p, is_open, all_open=None):
        """A row that just committed a real token under `give_up_below` is closed: its open positions become pad.

        Its answer's confidence (the lowest of its kept tokens) is now under the bound whatever follows, so a
        caller that withholds such answers would throw the remaining steps away.
        """
        pad = self.special.pad
        low = commit & is_open & (tokens != pad) & (token_p < self.cfg.give_up_below)
        rest = (is_open if all_open is None else all_open) & ~commit & low.any(1, keepdim=True)
        return commit | rest, torch.where(rest, torch.full_like(tokens, pad), tokens)

    def _close_if_empty(self, commit, tokens, probs, is_open, offsets, all_open=None):
        """After the first model call: a row whose first position ends the text (pad, or a line break in a
        one-line row) with probability >= `empty_above` is answered empty at once (`all_open`: every open
        position, later blocks included, when `is_open` is the current block's)."""
        end_p = probs[:, self.special.pad]
        if self.line_breaks is not None and self._one_line is not None:
            one_line = self._one_line[:, None].expand_as(is_open)[is_open]
            end_p = end_p + one_line * probs[:, self.line_breaks.to(probs.device)].sum(-1)
        ends = torch.zeros(is_open.shape, device=probs.device)
        ends[is_open] = end_p
        empty = (is_open & (offsets == 0) & (ends >= self.cfg.empty_above)).any(1, keepdim=True)
        rest = (is_open if all_open is None else all_open) & empty
        return commit | rest, torch.where(rest, torch.full_like(tokens, self.special.pad), tokens)

    def _forbid_early_end(self, logits: torch.Tensor, offsets: torch.Tensor, is_open: torch.Tensor) -> None:
        """The first `min_tokens` positions may be neither pad nor, in a one-line row, a line break (which would
        cut the text there): either would end the answer before it says anything."""
        early = offsets.expand_as(is_open)[is_open] < self.cfg.min_tokens
        logits[early, self.special.pad] = -math.inf
        if self.line_breaks is None or self._one_line is None:
            return
        cut = early & self._one_line[:, None].expand_as(is_open)[is_open]
        if bool(cut.any()):
            sub = logits[cut]
            sub[:, self.line_breaks.to(sub.device)] = -math.inf
            logits[cut] = sub

    def step(self, layout: Layout) -> torch.Tensor:
        """Predict and commit; returns the number of positions still open per row (B,)."""
        offsets = torch.arange(int(layout.spans.max()), device=layout.ids.device)[None, :]
        span_pos = (layout.starts[:, None] + offsets).clamp(max=layout.ids.shape[1] - 1)
        in_span = offsets < layout.spans[:, None]
        current = layout.ids.gather(1, span_pos)
        is_open = (current == self.special.mask) & in_span
        all_open, in_block = is_open, None
        if self.block:  # only the current block's open positions are predicted and may be committed
            origin = block_origin(layout.starts, self.block, self.block_from_span)
            pos = layout.starts[:, None] + offsets + origin
            first = layout.starts[:, None] + first_offset(is_open, offsets) + origin
            in_block = (pos // self.commit_unit) == (first // self.commit_unit)
            is_open = is_open & in_block
        logits = self.predictor(layout.ids, wanted=is_open).float()  # (N, V): open positions only
        logits[:, self.special.mask] = -math.inf  # the model may never "predict" a mask
        if self.cfg.pad_at_frontier:
            logits[self._pad_forbidden(current, is_open, in_span, offsets)[is_open], self.special.pad] = -math.inf
        if self.cfg.min_tokens:
            self._forbid_early_end(logits, offsets, is_open)
        probs = torch.softmax(logits, -1)
        picked, picked_p = self._choose_tokens(probs)
        tokens, token_p = current.clone(), torch.zeros(current.shape, device=probs.device)
        tokens[is_open], token_p[is_open] = picked, picked_p
        score = torch.full(current.shape, -1.0, device=probs.device)
        score[is_open] = scores(probs, self.cfg.order)
        steps_left = self.cfg.max_steps - self.steps if self.cfg.max_steps else None
        eligible = self._eligible(is_open, tokens, offsets)
        commit = self._commit_mask(score, eligible, steps_left, all_open.sum(1, keepdim=True) if self.block else None)
        later_pads = None
        if self.cfg.pad_fills_tail and in_block is not None:
            # After a pad every later position is pad, later blocks too; those are committed only once the
            # current block is complete (below), so no block is ever filled before the one in front of it.
            commit, tokens = self._fill_after_pad(commit, tokens, current, all_open, in_span)
            later_pads, commit = commit & ~in_block, commit & in_block
        elif self.cfg.pad_fills_tail:
            commit, tokens = self._fill_after_pad(commit, tokens, current, is_open, in_span)
        if self.cfg.pad_fills_tail and self.cfg.pad_run_above > 0:  # both follow from right-padded spans
            pad_p = torch.zeros(current.shape, device=probs.device)
            pad_p[is_open] = probs[:, self.special.pad]
            commit, tokens, token_p = self._close_pad_run(commit, tokens, token_p, is_open, in_span, pad_p)
        if later_pads is not None:
            commit = commit | (later_pads & ~(is_open & ~commit).any(1, keepdim=True))
        if self.cfg.give_up_below > 0:  # a row given up (or answered empty) is closed whole, later blocks too
            commit, tokens = self._give_up(commit, tokens, token_p, is_open, all_open)
        if self.cfg.empty_above > 0 and self.steps == 0:
            commit, tokens = self._close_if_empty(commit, tokens, probs, is_open, offsets, all_open)
        layout.ids.scatter_(1, span_pos, torch.where(commit, tokens, current))
        self._last_p = torch.where(commit, token_p, torch.zeros_like(token_p))
        self.steps += 1
        return (all_open & ~commit).sum(1)

    # --- the loop ----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def run(
        self,
        rows: list[Row],
        on_step: Callable[[StepReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[DenoiseResult]:
        device = next(self.net.parameters()).device
        for r in rows:
            r.confidence = [1.0 if t != self.special.mask else 0.0 for t in r.span]
        remasking = self.cfg.remask_below > 0 or self.cfg.remask_margin is not None
        rounds_left = self.cfg.remask_rounds if remasking else 0
        remasked = [0] * len(rows)
        layout, active = self._start(rows, device)
        while True:
            if should_stop and should_stop():
                raise DenoiseCancelled()
            if any(self.special.mask in r.span for r in rows):
                layout, active = self._drop_finished(rows, active, layout)
                self.step(layout)
                self._sync_rows([rows[i] for i in active], layout)
                if on_step:
                    on_step(StepReport(self.steps, [list(r.span) for r in rows], [r.span.count(self.special.mask) for r in rows]))
                continue
            if self.cfg.grow and self._grow(rows):
                layout, active = self._start(rows, device)
                continue
            if rounds_left:
                rounds_left -= 1
                layout, active = self._start(rows, device)  # scoring sees every row, finished ones included
                counts = self._remask_weak(rows, layout)
                remasked = [a + b for a, b in zip(remasked, counts)]
                if any(counts):
                    layout, active = self._start(rows, device)
                    continue
            break
        return [self._result(r, n) for r, n in zip(rows, remasked)]

    def _start(self, rows: list[Row], device: torch.device) -> tuple[Layout, list[int]]:
        """A fresh layout of every row (new rows, grown spans, reopened tokens): the cache starts over."""
        layout = build_layout(rows, self.special.pad, device)
        self.predictor.reset(layout)
        self._one_line = torch.tensor([r.one_line for r in rows], dtype=torch.bool, device=device)
        return layout, list(range(len(rows)))

    def _drop_finished(self, rows: list[Row], active: list[int], layout: Layout) -> tuple[Layout, list[int]]:
        """Rows without masks leave the batch, so the slowest row no longer makes every row pay for its steps."""
        still = [n for n, i in enumerate(active) if self.special.mask in rows[i].span]
        if len(still) == len(active):
            return layout, active
        index = torch.tensor(still, device=layout.ids.device)
        layout = self.predictor.keep_rows(index)
        self._one_line = self._one_line[index]
        return layout, [active[n] for n in still]

    def _sync_rows(self, rows: list[Row], layout: Layout) -> None:
        """Copy committed ids (and their probabilities) back from the tensor into the rows."""
        for i, r in enumerate(rows):
            s = int(layout.starts[i])
            new = layout.ids[i, s : s + len(r.span)].tolist()
            p = self._last_p[i, : len(r.span)].tolist()
            for j, (old, tok) in enumerate(zip(r.span, new)):
                if old == self.special.mask and tok != self.special.mask:
                    r.confidence[j] = p[j]
            r.span = new

    def _line_goes_on(self, row: Row) -> bool:
        if not row.one_line or self.line_breaks is None:
            return False
        return not bool(self.line_breaks[torch.tensor(row.span)].any())

    def _grow(self, rows: list[Row]) -> bool:
        """Double the budget of rows that used all of it and ended unsure, reopening their weak tail; a one-line
        row whose line has not ended yet (no line break) grows too, however sure it was."""
        grew = False
        for r in rows:
            if self.special.pad in r.span or len(r.span) >= self.cfg.max_budget:
                continue
            tail = r.confidence[-4:]
            if min(tail, default=1.0) >= 0.5 and not self._line_goes_on(r):
                continue
            extra = min(len(r.span), self.cfg.max_budget - len(r.span))
            reopen = [j for j in range(len(r.span) - len(tail), len(r.span)) if r.confidence[j] < 0.5]
            for j in reopen:
                r.span[j], r.confidence[j] = self.special.mask, 0.0
            r.span += [self.special.mask] * extra
            r.confidence += [0.0] * extra
            r.grown += extra
            grew = True
        return grew

    @torch.inference_mode()
    def _remask_weak(self, rows: list[Row], layout: Layout) -> list[int]:
        """Score each committed token with itself masked; reopen the weak ones (bound or margin rule)."""
        probs_of, best_of = score_tokens(self.predictor, layout, self.special.mask, with_best=True)
        counts = []
        for i, r in enumerate(rows):
            weak = []
            for j, (p, best) in enumerate(zip(probs_of[i][: len(r.span)], best_of[i][: len(r.span)])):
                if r.span[j] == self.special.pad:
                    continue
                if self.cfg.remask_margin is not None:
                    weak.append(token_margin(p, best) >= self.cfg.remask_margin)
                else:
                    weak.append(p < self.cfg.remask_below)
            weak += [False] * (len(r.span) - len(weak))
            counts.append(sum(weak))
            groups = self._word_groups(r.span, weak)
            for lo, hi in reversed(groups):  # right to left: inserting a spare position keeps earlier offsets
                for j in range(lo, hi):
                    r.span[j], r.confidence[j] = self.special.mask, 0.0
                if self.cfg.remask_margin is not None and self.cfg.remask_words and self.word_pieces is not None:
                    r.span.insert(hi, self.special.mask)
                    r.confidence.insert(hi, 0.0)
        return counts

    def _word_groups(self, span: list[int], weak: list[bool]) -> list[tuple[int, int]]:
        """[lo, hi) runs to reopen: each weak token, widened to its whole word under the margin rule."""
        words = self.cfg.remask_margin is not None and self.cfg.remask_words and self.word_pieces is not None
        groups: list[tuple[int, int]] = []
        for j, w in enumerate(weak):
            if not w:
                continue
            lo, hi = j, j + 1
            if words:
                starts, ends = self.word_pieces

                def joined(a: int, b: int) -> bool:  # tokens a and b=a+1 are pieces of one word
                    ta, tb = span[a], span[b]
                    return 0 <= ta < len(ends) and 0 <= tb < len(starts) and ends[ta] and starts[tb]

                while lo > 0 and joined(lo - 1, lo):
                    lo -= 1
                while hi < len(span) and joined(hi - 1, hi):
                    hi += 1
            if groups and lo <= groups[-1][1]:
                groups[-1] = (groups[-1][0], max(hi, groups[-1][1]))
            else:
                groups.append((lo, hi))
        return groups

    def _result(self, r: Row, remasked: int) -> DenoiseResult:
        keep = [j for j, t in enumerate(r.span) if t != self.special.pad]
        return DenoiseResult(
            [r.span[j] for j in keep], [r.confidence[j] for j in keep], self.steps, r.grown, remasked
        )


def token_margin(p: float, best_other: float) -> float:
    """How far (nats) a token's log-probability lies below the best alternative's; negative when it is the best."""
    return math.log(max(best_other, 1e-12)) - math.log(max(p, 1e-12))


def score_tokens(
    predictor: SpanPredictor, layout: Layout, mask_id: int, passes: int = 4, with_best: bool = False
):
    """Probability the model gives each span token when every `passes`-th position (its own included) is masked.

    A masked diffusion model is only trained to predict masked positions, so a token is scored with itself
    hidden; masking an interleaved quarter at a time keeps most of the span visible around it. With `with_best`
    also the probability of the best other token at each position: (token probs, best alternative probs).
    """
    spans = layout.spans
    width = int(spans.max())
    offsets = torch.arange(width, device=layout.ids.device)[None, :]
    span_pos = (layout.starts[:, None] + offsets).clamp(max=layout.ids.shape[1] - 1)
    in_span = offsets < spans[:, None]
    original = layout.ids.gather(1, span_pos)
    out = torch.zeros(original.shape, dtype=torch.float32)
    best = torch.zeros(original.shape, dtype=torch.float32)
    for k in range(min(passes, width)):
        hide = in_span & (offsets % passes == k)
        ids = layout.ids.clone()
        ids.scatter_(1, span_pos, torch.where(hide, torch.full_like(original, mask_id), original))
        predictor.context = None  # the context's view of the span changed: run the full sequence
        logits = predictor(ids).float()
        logits[..., mask_id] = -math.inf  # a mask is never an answer
        probs = torch.softmax(logits, -1)
        p = probs.gather(-1, original[..., None])[..., 0].cpu()
        out = torch.where(hide.cpu(), p, out)
        if with_best:
            others = probs.scatter(-1, original[..., None], 0.0).max(-1).values.cpu()
            best = torch.where(hide.cpu(), others, best)
    return (out.tolist(), best.tolist()) if with_best else out.tolist()
