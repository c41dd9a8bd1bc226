"""Engine benchmark: the same held-out spans through three samplers, each in a fresh process.

(a) baseline: one token per step, no cache; (b) threshold decoding; (c) threshold decoding with the context cache.
A fresh process per mode keeps each mode's peak RSS its own. Also measures one full forward pass against one
cached span-only step on the same layout, the figure behind the cache's speedup.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from model.sampler import SamplerConfig

MODES = {
    "baseline": SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False, grow=False, pad_run_above=0.0),
    "threshold": SamplerConfig(schedule="threshold", use_cache=False, grow=False),
    "threshold_cache": SamplerConfig(schedule="threshold", use_cache=True, grow=False),
}


@dataclass(frozen=True)
class BenchConfig:
    model: str | None = None
    device: str = "cpu"
    spans: int = 100
    kind: str = "line"
    context: int = 512
    seed: int = 0
    threads: int = 0  # 0: torch's default
    threshold: float = 0.9


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
    """All three modes, each in its own spawned process; returns the combined report."""
    ctx = mp.get_context("spawn")
    report: dict = {}
    for mode in MODES:
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(cfg, mode, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if on_mode:
            on_mode(mode, result)
        report[mode] = result
    cache_step = report["threshold_cache"].pop("cache_step")
    report["spans"] = report["baseline"]["spans"]
    report["context_tokens"] = report["baseline"]["context_tokens"]
    for mode in MODES:
        del report[mode]["spans"], report[mode]["context_tokens"]
    report["cache_step"] = cache_step
    report["device"] = cfg.device
    report["dtype"] = report["baseline"]["dtype"]
    for mode in MODES:
        del report[mode]["dtype"]
    report["kind"] = cfg.kind
    return report
