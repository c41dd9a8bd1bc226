"""The engine: text in, text out. Turns (prefix, span, suffix) into token rows, runs the sampler, decodes.

Everything above it (CLI, server, batch conversion) calls these functions; it knows nothing about editors or
positions, only strings.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from model.network import Denoiser
from model.requests import Draft, InfillRequest, InfillResult, guess_budget
from model.sampler import DenoiseResult, Row, Sampler, SamplerConfig, StepReport
from model.tokenizer import CodeTokenizer

DEFAULT_CHECKPOINT = Path(__file__).parent / "weights" / "default"
CHARS_PER_TOKEN_BOUND = 8  # no token is longer than this many characters in practice
MASK_GLYPH = "\u2591"  # how an open position shows in a streamed draft
SINGLE_LINE_MAX_BUDGET = 64
# Qwen2.5-Coder's fill-in-the-middle tokens (also in the Qwen2.5 and Qwen3 tokenizers): prefix, suffix, middle.
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")




class Engine:
    """A loaded checkpoint: network, tokenizer and device, with infill and repair over text."""

    def __init__(self, net: Denoiser, tok: CodeTokenizer, device: str, name: str, context_tokens: int = 512):
        self.net = net
        self.tok = tok
        self.device = device
        self.name = name
        self.context_tokens = context_tokens
        self.special = tok.special

    family = "instant-edit"  # checkpoint family (model.families); set by load()
    chat_format = None  # model.chat.ChatFormat for instruction-tuned checkpoints; set by load()

    @functools.cached_property
    def line_breaks(self) -> torch.Tensor:
        """(V,) bool: tokens whose text holds a line break (they end a one-line completion)."""
        texts = self.tok.token_texts()[: self.net.cfg.vocab_size]
        table = torch.zeros(self.net.cfg.vocab_size, dtype=torch.bool)
        table[: len(texts)] = torch.tensor(["\n" in t or "\r" in t for t in texts], dtype=torch.bool)
        return table

    @functools.cached_property
    def word_pieces(self) -> tuple[list[bool], list[bool]]:
        """Per token id: (its text starts with a word character, it ends with one): sub-word neighbours join."""
        texts = self.tok.token_texts()[: self.net.cfg.vocab_size]
        word = lambda c: c.isalnum() or c == "_"
        return [bool(t) and word(t[0]) for t in texts], [bool(t) and word(t[-1]) for t in texts]

    @functools.cached_property
    def fim_ids(self) -> tuple[int, int, int] | None:
        """Ids of the fill-in-the-middle tokens (prefix, suffix, middle) when the tokenizer has all three."""
        ids = [self.tok.tok.token_to_id(t) for t in FIM_TOKENS]
        if any(i is None or not 0 <= i < self.net.cfg.vocab_size for i in ids):
            return None
        return tuple(ids)

    @property
    def suffix_note(self) -> str | None:
        """For a block-diffusion checkpoint: how the text after the span reaches it (None when nothing to say)."""
        if not self.net.cfg.block_size:
            return None
        if self.fim_ids:
            return None
        return (
            f"{self.name} decodes block-causally and its tokenizer has no fill-in-the-middle tokens "
            f"({', '.join(FIM_TOKENS)}): the text after the span is not given to it"
        )

    @property
    def precision(self) -> str:
        """The weights' dtype as a word ("bfloat16", "float32", "int8"), for reports."""
        if getattr(self.net, "int8", False):
            return INT8
        return str(next(self.net.parameters()).dtype).removeprefix("torch.")

    @property
    def supports_chat(self) -> bool:
        """True for instruction-tuned checkpoints, which take `rewrite` with an instruction."""
        return self.chat_format is not None

    # --- context -----------------------------------------------------------------------------------------
    def encode_prefix(self, prefix: str, max_tokens: int) -> list[int]:
        """The prefix's last `max_tokens`, cut at a line start; a begin-of-document token when it all fits."""
        window = prefix[-max_tokens * CHARS_PER_TOKEN_BOUND :] if max_tokens else ""
        if len(window) == len(prefix):
            ids = self.tok.encode(prefix)
            if len(ids) < max_tokens:
                return [self.special.bos] + ids
        else:
            window = window[window.find("\n") + 1 :]  # the first line was cut: drop it
        lines = window.splitlines(keepends=True)
        kept = 0
        for n in map(len, self.tok.encode_batch(lines[::-1])):
            if n > max_tokens:
                break
            max_tokens -= n
            kept += 1
        return self.tok.encode("".join(lines[len(lines) - kept :])) if kept else []

    def encode_suffix(self, suffix: str, max_tokens: int) -> list[int]:
        """The suffix's first `max_tokens`, cut at a line end; an end-of-document token when it all fits."""
        window = suffix[: max_tokens * CHARS_PER_TOKEN_BOUND] if max_tokens else ""
        if len(window) == len(suffix):
            ids = self.tok.encode(suffix)
            if len(ids) < max_tokens:
                return ids + [self.special.eos]
        lines = window.splitlines(keepends=True)
        kept = 0
        for n in map(len, self.tok.encode_batch(lines)):
            if n > max_tokens:
                break
            max_tokens -= n
            kept += 1
        return self.tok.encode("".join(lines[:kept])) if kept else []

    def default_budget(self, request: InfillRequest) -> int:
        """The span budget for `request` (`model.requests.guess_budget`)."""
        return guess_budget(request, lambda text: len(self.tok.encode(text)))

    def make_row(self, request: InfillRequest, budget: int, context_tokens: int | None = None) -> Row:
        """Token row for a request: the prefix gets most of the room, and whatever either side leaves unused."""
        room = context_tokens or self.context_tokens
        share = len(request.prefix) / max(1, len(request.prefix) + len(request.suffix))
        pre_room = int(room * min(0.75, max(0.5, share)))
        suffix = self.encode_suffix(request.suffix, room - pre_room)
        prefix = self.encode_prefix(request.prefix, room - len(suffix))
        if len(prefix) + len(suffix) < room and suffix and suffix[-1] != self.special.eos:
            suffix = self.encode_suffix(request.suffix, room - len(prefix))
        fim = bool(self.net.cfg.block_size and self.fim_ids)  # the row then starts with <|fim_prefix|>
        if self.net.cfg.block_size:
            prefix, suffix = self._block_context(request, prefix, suffix, room)
        if self.net.cfg.logit_shift and not fim and (not prefix or prefix[0] != self.special.bos):
            # Shift families read a position's prediction one to the left: the row must not start in the span.
            prefix = [self.special.bos] + prefix
        return Row(prefix, suffix, [self.special.mask] * budget, one_line=request.single_line)

    def _block_context(
        self, request: InfillRequest, prefix: list[int], suffix: list[int], room: int
    ) -> tuple[list[int], list[int]]:
        """A block-causal model never sees positions after the span, so a suffix there would be wasted.

        With fill-in-the-middle tokens the suffix moves before the span, Qwen2.5-Coder's layout:
        `<|fim_prefix|>` prefix `<|fim_suffix|>` suffix `<|fim_middle|>` span (the begin/end-of-document markers
        are left out). Without them the suffix is dropped (see `suffix_note`) and the prefix takes all the room.
        """
        if self.fim_ids:
            fp, fs, fm = self.fim_ids
            if prefix and prefix[0] == self.special.bos:
                prefix = prefix[1:]
            if suffix and suffix[-1] == self.special.eos:
                suffix = suffix[:-1]
            return [fp, *prefix, fs, *suffix, fm], []
        return self.encode_prefix(request.prefix, room), []

    # --- requests ----------------------------------------------------------------------------------------
    def render(self, span_ids: list[int]) -> str:
        """Text of a partial span: committed tokens decoded, open positions shown as a glyph, pad dropped."""
        out, run = [], []
        for t in span_ids:
            if t == self.special.mask:
                out.append(self.tok.decode(run) + MASK_GLYPH)
                run = []
            elif t != self.special.pad:
                run.append(t)
        out.append(self.tok.decode(run))
        return "".join(out)

    def infill_batch(
        self,
        requests: list[InfillRequest],
        sampler: SamplerConfig | None = None,
        on_draft: Callable[[list[Draft]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        context_tokens: int | None = None,
    ) -> list[InfillResult]:
        """Denoise several holes in one batch (one model call per step for all of them)."""
        cfg = sampler or SamplerConfig()
        if all(r.single_line for r in requests):
            # A line never needs more than a couple of buckets; growing further only invites run-on text.
            cfg = replace(cfg, max_budget=min(cfg.max_budget, SINGLE_LINE_MAX_BUDGET))
        rows = [self.make_row(r, self.default_budget(r), context_tokens) for r in requests]
        results = self._run(rows, cfg, on_draft, should_stop)
        return [self._one_line(res) if req.single_line else res for req, res in zip(requests, results)]

    def _one_line(self, result: InfillResult) -> InfillResult:
        """A single-line request keeps its first line: the rest would land where the suffix already is."""
        line = result.text.split("\n", 1)[0]
        if line == result.text:
            return result
        return replace(result, text=line, new_tokens=len(self.tok.encode(line)))

    def infill(self, request: InfillRequest, sampler: SamplerConfig | None = None, **kw) -> InfillResult:
        return self.infill_batch([request], sampler, **kw)[0]

    def repair(
        self,
        request: InfillRequest,
        sampler: SamplerConfig | None = None,
        bound: float = 0.05,
        margin: float | None = None,
        **kw,
    ) -> InfillResult:
        """Score the existing span, reopen its tokens the model finds unlikely, and denoise only those.

        A token is reopened when its probability (scored with itself masked) is under `bound`, or, when `margin`
        is given, when its log-probability lies at least `margin` nats below the best alternative's.
        """
        return self.repair_batch([request], sampler, bound, margin=margin, **kw)[0]

    def repair_batch(
        self,
        requests: list[InfillRequest],
        sampler: SamplerConfig | None = None,
        bound: float = 0.05,
        on_draft: Callable[[list[Draft]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        context_tokens: int | None = None,
        margin: float | None = None,
    ) -> list[InfillResult]:
        """`repair` for several spans in one batch; an empty span has nothing to score, so it is infilled."""
        if any(not r.span for r in requests):
            if len(requests) > 1:
                return [
                    self.repair(r, sampler, bound, margin, should_stop=should_stop, context_tokens=context_tokens)
                    for r in requests
                ]
            return self.infill_batch(requests, sampler, on_draft, should_stop, context_tokens)
        cfg = replace(
            sampler or SamplerConfig(),
            remask_below=bound,
            remask_margin=margin,
            remask_rounds=1,
            grow=False,
            pad_fills_tail=False,  # reopened words sit between kept tokens: a pad in one says nothing of the next
        )
        rows = []
        for r in requests:
            row = self.make_row(r, 0, context_tokens)
            row.span = self.tok.encode(r.span)
            rows.append(row)
        return self._run(rows, cfg, on_draft, should_stop)

    @torch.inference_mode()
    def token_margins(self, request: InfillRequest, context_tokens: int | None = None) -> list[tuple[str, float]]:
        """Each token of the request's span with its margin (see `sampler.token_margin`), scored as repair does."""
        from model.predictor import SpanPredictor
        from model.sampler import build_layout, score_tokens, token_margin

        row = self.make_row(request, 0, context_tokens)
        row.span = self.tok.encode(request.span)
        if not row.span:
            return []
        layout = build_layout([row], self.special.pad, next(self.net.parameters()).device)
        predictor = SpanPredictor(self.net, False)
        predictor.reset(layout)
        probs, best = score_tokens(predictor, layout, self.special.mask, with_best=True)
        return [
            (self.tok.decode([t]), token_margin(p, b)) for t, p, b in zip(row.span, probs[0], best[0])
        ]

    def rewrite(
        self,
        request: InfillRequest,
        instruction: str,
        sampler: SamplerConfig | None = None,
        **kw,
    ) -> InfillResult:
        """Rewrite the span as `instruction` asks, through the checkpoint's chat template (instruct variants)."""
        if not self.supports_chat:
            raise ValueError(
                f"checkpoint {self.name!r} ({self.family}) is infill-only: it has no chat template or is a base "
                "variant; use infill() or load an instruction-tuned checkpoint"
            )
        from model import chat

        return chat.rewrite(
            self, request, instruction, sampler, kw.get("on_draft"), kw.get("should_stop"), kw.get("context_tokens")
        )

    @torch.inference_mode()
    def _run(self, rows, cfg, on_draft, should_stop) -> list[InfillResult]:
        line_breaks = self.line_breaks if any(r.one_line for r in rows) else None
        words = self.word_pieces if cfg.remask_margin is not None and cfg.remask_words else None
        sampler = Sampler(self.net, self.special, cfg, line_breaks, words)

        def report(rep: StepReport) -> None:
            if on_draft:
                on_draft([Draft(rep.step, self.render(s), n) for s, n in zip(rep.spans, rep.open_positions)])

        results: list[DenoiseResult] = sampler.run(rows, report, should_stop)
        return [
            InfillResult(
                text=self.tok.decode(res.span),
                steps=res.steps,
                nfe=sampler.predictor.nfe,
                new_tokens=len(res.span),
                grown=res.grown,
                remasked=res.remasked,
                min_confidence=min(res.confidence, default=1.0),
                context_tokens=len(row.prefix) + len(row.suffix),
            )
            for res, row in zip(results, rows)
        ]


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_threads(requested: int = 0) -> int:
    """torch threads for the CPU: `requested` when positive, else one per two cores this process may use.

    An editor's machine is never idle, and torch's default (one thread per core) collapses when another process
    holds a core: on 2 cores with one kept busy, an inline completion took 26x longer with 2 threads than with 1
    (README "Performance"). Half the cores leaves room for the editor and whatever else runs.
    """
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return max(1, cores // 2)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
# Not a weight dtype torch loads into: float32 weights whose Linear layers are then quantized to int8 (CPU only).
INT8 = "int8"


def pick_dtype(device: str, dtype: str = "auto") -> torch.dtype:
    """`auto` (or $INSTANT_EDIT_DTYPE): bf16 on CUDA and on CPUs that multiply bf16 in hardware, else float32."""
    if dtype == "auto":
        dtype = os.environ.get("INSTANT_EDIT_DTYPE", "auto")
    if dtype == "auto":
        fast = device.startswith("cuda") or (device == "cpu" and cpu_has_fast_bf16())
        return torch.bfloat16 if fast else torch.float32
    if dtype == INT8:
        return torch.float32  # quantized after loading (`quantize_int8`)
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose auto, {', '.join(DTYPES)}, {INT8}")
    return DTYPES[dtype]


def wants_int8(dtype: str = "auto") -> bool:
    return (os.environ.get("INSTANT_EDIT_DTYPE", "auto") if dtype == "auto" else dtype) == INT8


def quantize_int8(net: Denoiser, device: str) -> Denoiser:
    """Every Linear layer's weights to int8, activations quantized per call (torch's dynamic quantization, x86
    kernels): on this project's 2-core CPU a typing completion of the embedded model took 42.6 ms against 52.6 ms
    in float32 with the same text in 39 of 40 cases; the weights take a quarter of the memory."""
    if device != "cpu":
        raise ValueError(f"int8 weights run on the CPU only (device {device!r}); use bfloat16 on a GPU")
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch marks its eager quantization API as deprecated in favour of torchao
        warnings.simplefilter("ignore")
        # In place: a copy would hold the float32 and the int8 weights at once (peak memory twice the model).
        quantized = quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    quantized.int8 = True
    return quantized


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX-512 BF16): then bf16 matmuls run 4-10x
    faster than float32 here; elsewhere they are emulated and slower."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def load(
    path: str | Path | None = None,
    device: str = "auto",
    context_tokens: int = 512,
    allow_download: bool | None = None,
    dtype: str = "auto",
) -> Engine:
    """Load a checkpoint (a folder or a hub id; the embedded default when None) onto CUDA or the CPU.

    `dtype`: see `pick_dtype`; bf16 on CUDA and on CPUs with hardware bf16 (AMX), float32 otherwise; `int8`:
    float32 weights with every Linear layer quantized to int8 (CPU only, `quantize_int8`).

    The family (the project's own, Dream, LLaDA) is detected from config.json; see `model.families`.
    """
    from model import chat, families, hub

    folder = hub.resolve(path, allow_download) if path else DEFAULT_CHECKPOINT
    device = pick_device(device)
    family, net = families.load_family_network(folder, device=device, dtype=pick_dtype(device, dtype))
    if wants_int8(dtype):
        net = quantize_int8(net, device)
    raw_tok = families.load_tokenizer(folder)
    special = special_ids_from_config(net, folder, raw_tok)
    tok = CodeTokenizer(raw_tok, special)
    name = hub.display_name(path, folder)
    engine = Engine(net, tok, device, name, context_tokens)
    engine.family = family.name
    engine.chat_format = chat.read_chat_format(folder, name, tok.tok, {special.eos, special.pad})
    return engine


def special_ids_from_config(net: Denoiser, folder: Path, raw_tok=None):
    """Mask, pad, eos and bos ids by the checkpoint family's rules (config.json first for the mask id)."""
    from model import families

    family = families.detect_folder(folder)
    return families.special_ids(folder, family, net.cfg, raw_tok or families.load_tokenizer(folder))
