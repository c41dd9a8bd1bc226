"""Engine benchmark: the same held-out spans through three samplers, each in a fresh process.

(a) baseline: one token per step, no cache; (b) threshold decoding; (c) threshold decoding with the context cache.
A fresh process per mode keeps each mode's peak RSS its own. Also measures one full forward pass against one
cached span-only step on the same layout, the figure behind the cache's speedup.

`shape` (`instant-edit bench --shape qwen2.5-0.5b | qwen3-0.6b`) times a network of a released model's shapes with
random weights instead of a checkpoint: what a checkpoint of that size would cost here, before downloading one.
The embedded model's tokenizer makes the requests (its ids are valid in the larger vocabulary). With random
weights nothing is ever confident, so the threshold sampler commits one token per step: its figures are the slow
end, and exact match means nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from dataclasses import asdict, dataclass, replace

import torch

from model.config import ModelConfig
from model.sampler import SamplerConfig

MODES = {
    "baseline": SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False, grow=False, pad_run_above=0.0),
    "threshold": SamplerConfig(schedule="threshold", use_cache=False, grow=False),
    "threshold_cache": SamplerConfig(schedule="threshold", use_cache=True, grow=False),
}


# Shapes of released base models (their config.json), for `--shape`: Open-dCoder and Tiny-A2D start from these.
SHAPES = {
    "qwen2.5-0.5b": ModelConfig(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        attention_bias=True,
    ),
    "qwen3-0.6b": ModelConfig(
        vocab_size=151936,
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        attention_head_dim=128,
        max_position_embeddings=40960,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        attention_bias=False,
        qk_norm=True,
    ),
}



def _embedded(hidden: int, layers: int, heads: int, kv_heads: int) -> ModelConfig:
    """The embedded model's body (4,096-token vocabulary, SwiGLU 3x hidden, shifted logits) at another size."""
    return ModelConfig(
        vocab_size=4096, hidden_size=hidden, intermediate_size=3 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=1024, logit_shift=True,
    )


# Sizes the embedded model could take (issue 11: the largest whose single-line p50 stays <= 100 ms on 2 cores,
# within 25M parameters): 4.2M is today's.
SHAPES.update(
    {
        "embedded-4m": _embedded(256, 4, 4, 2),
        "embedded-8m": _embedded(320, 6, 5, 1),
        "embedded-15m": _embedded(384, 8, 6, 2),
        "embedded-23m": _embedded(512, 7, 8, 2),
    }
)


@dataclass(frozen=True)
class BenchConfig:
    model: str | None = None
    shape: str | None = None  # a name in SHAPES: random weights of that shape instead of `model`
    layers: int = 0  # with `shape`: keep only this many layers (smoke tests); 0: all of them
    device: str = "cpu"
    spans: int = 100
    kind: str = "line"
    context: int = 512
    seed: int = 0
    threads: int = 0  # 0: torch's default
    threshold: float = 0.9
    modes: tuple[str, ...] = tuple(MODES)  # which of MODES to run (a full shape's baseline takes hours here)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load_cases(cfg: BenchConfig, engine):
    from model.heldout import held_out_files, make_cases

    max_truth = 24 if cfg.kind in ("line", "line_tail") else 128
    return make_cases(held_out_files(), cfg.kind, cfg.spans, cfg.seed, max_truth_tokens=max_truth, tok=engine.tok)


def run_mode(cfg: BenchConfig, mode: str) -> dict:
    """Run every case with one sampler; latency per request, model calls and exact match."""
    import model

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.shape:
        engine = shape_engine(cfg)
    else:
        engine = model.load(cfg.model, device=cfg.device, context_tokens=cfg.context)
    cases = load_cases(cfg, engine)
    sampler = MODES[mode]
    if sampler.schedule == "threshold":
        sampler = SamplerConfig(**{**asdict(sampler), "threshold": cfg.threshold})
    for case in cases[:2]:  # warm up allocator and kernels
        engine.infill(case.request, sampler)
    latencies, tokens, nfe, exact, context = [], 0, 0, 0, []
    for case in cases:
        t0 = time.perf_counter()
        res = engine.infill(case.request, sampler)
        latencies.append((time.perf_counter() - t0) * 1000)
        tokens += res.new_tokens
        nfe += res.nfe
        exact += res.text.strip() == case.truth.strip()
        context.append(res.context_tokens)
    out = {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "tokens_per_s": round(tokens / (sum(latencies) / 1000), 1),
        "nfe_per_token": round(nfe / max(1, tokens), 4),
        "exact_match": round(exact / max(1, len(cases)), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "spans": len(cases),
        "context_tokens": round(statistics.mean(context), 1) if context else 0,
        "dtype": engine.precision,
    }
    if mode == "threshold_cache":
        out["cache_step"] = step_costs(engine, cases[0].request)
    return out


def shape_config(cfg: BenchConfig) -> ModelConfig:
    if cfg.shape not in SHAPES:
        raise ValueError(f"unknown shape {cfg.shape!r}; choose one of {', '.join(SHAPES)}")
    shape = SHAPES[cfg.shape]
    return replace(shape, num_hidden_layers=cfg.layers) if cfg.layers else shape


def shape_engine(cfg: BenchConfig):
    """The embedded model's engine (tokenizer, special ids, precision) with a random network of `cfg.shape`."""
    import model
    from model.bench_gpu import random_network
    from model.engine import quantize_int8, wants_int8

    shape = shape_config(cfg)
    engine = model.load(None, device=cfg.device, context_tokens=cfg.context)
    dtype = next(engine.net.parameters()).dtype
    special = engine.special
    shape = replace(
        shape, mask_token_id=special.mask, pad_token_id=special.pad, bos_token_id=special.bos, eos_token_id=special.eos
    )
    engine.net = random_network(shape, str(engine.device), dtype, cfg.seed)
    if wants_int8():  # `--dtype int8` reaches here through $INSTANT_EDIT_DTYPE
        engine.net = quantize_int8(engine.net, str(engine.device))
    engine.name = cfg.shape if not cfg.layers else f"{cfg.shape} ({cfg.layers} layers)"
    return engine


@torch.inference_mode()
def step_costs(engine, request, reps: int = 20) -> dict:
    """Milliseconds of one full forward pass vs one cached span-only step, on the same layout."""
    from model.predictor import SpanPredictor
    from model.sampler import build_layout

    row = engine.make_row(request, engine.default_budget(request))
    layout = build_layout([row], engine.special.pad, torch.device(engine.device))
    timings = {}
    for name, use_cache in (("full_ms", False), ("cached_ms", True)):
        predictor = SpanPredictor(engine.net, use_cache)
        predictor.reset(layout)
        predictor(layout.ids)  # fills the cache when on
        t0 = time.perf_counter()
        for _ in range(reps):
            predictor(layout.ids)
        timings[name] = round((time.perf_counter() - t0) * 1000 / reps, 3)
    timings["speedup"] = round(timings["full_ms"] / timings["cached_ms"], 2)
    timings["span_share"] = round(int(layout.spans[0]) / int(layout.lengths[0]), 4)
    return timings


def _child(cfg: BenchConfig, mode: str, queue) -> None:
    queue.put(run_mode(cfg, mode))


def run_engine_bench(cfg: BenchConfig, on_mode=None) -> dict:
    """The chosen modes (all three by default), each in its own spawned process; returns the combined report."""
    unknown = [m for m in cfg.modes if m not in MODES]
    if unknown or not cfg.modes:
        raise ValueError(f"unknown bench modes {unknown}; choose from {', '.join(MODES)}")
    ctx = mp.get_context("spawn")
    report: dict = {}
    for mode in cfg.modes:
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(cfg, mode, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if on_mode:
            on_mode(mode, result)
        report[mode] = result
    first = report[cfg.modes[0]]
    report["spans"] = first["spans"]
    report["context_tokens"] = first["context_tokens"]
    report["dtype"] = first["dtype"]
    for mode in cfg.modes:
        del report[mode]["spans"], report[mode]["context_tokens"], report[mode]["dtype"]
    if "threshold_cache" in report:
        report["cache_step"] = report["threshold_cache"].pop("cache_step")
    report["device"] = cfg.device
    report["kind"] = cfg.kind
    if cfg.shape:
        report["shape"] = cfg.shape
        report["layers"] = shape_config(cfg).num_hidden_layers
        report["parameters"] = shape_parameters(shape_config(cfg))
    return report


def shape_parameters(shape: ModelConfig) -> int:
    """Parameter count of a shape (tied embeddings counted once), without allocating it."""
    from model.network import Denoiser

    with torch.device("meta"):
        return Denoiser(shape).num_parameters()
