"""`instant-edit bench --convert`: batch conversion throughput, batched vs one unit per call, in the same run."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

BATCH_SIZE = 16
BATCH_TOKENS = 4096


def fixture_jobs(engine, root: Path, limit: int, context: int) -> list:
    """The --instruction jobs for the units of the sample tree (at most `limit`)."""
    from lsp_server.cli.batch import plan, sample_tree
    from lsp_server.cli.batch.units import split_units
    from lsp_server.cli.batch.walk import walk

    sample_tree.build(root, modules=max(2, limit // 6 + 1), js=2)
    mode = plan.Mode("instruction", instruction="Add type hints.")
    fits = lambda text: len(engine.tok.encode(text)) <= 192
    jobs = []
    for n, source in enumerate(walk([root])[1]):
        text = source.path.read_text()
        for i, unit in enumerate(split_units(text, source.language, fits).units):
            jobs += plan.jobs_for_unit(n, i, text, unit, mode, source.language)
    return jobs[:limit]


def timed(engine, batches, sampler, context: int) -> dict:
    from lsp_server.cli.batch.runner import run_batch

    began = time.perf_counter()
    tokens = kept = calls = units = 0
    for batch in batches:
        results = run_batch(engine, [j.request for j in batch.jobs], batch.repair, sampler, context)
        # Every budget position is denoised (pad included): that is the work; `kept` is what the text keeps.
        tokens += sum(engine.default_budget(j.request) + r.grown for j, r in zip(batch.jobs, results))
        kept += sum(r.new_tokens for r in results)
        calls += results[0].nfe
        units += len(results)
    seconds = time.perf_counter() - began
    return {
        "units": units,
        "tokens": tokens,
        "kept_tokens": kept,
        "model_calls": calls,
        "seconds": round(seconds, 3),
        "units_per_s": round(units / seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def run_convert_bench(args: argparse.Namespace) -> dict:
    """Units/s and tokens/s for the same units run in packed batches and one per call."""
    import torch

    import model
    from lsp_server.cli.batch import plan

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = model.load(args.model, device=args.device, context_tokens=args.context)
    sampler = model.SamplerConfig(threshold=args.threshold, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = fixture_jobs(engine, Path(tmp), args.spans, args.context)
    measure = engine.default_budget
    batched = plan.pack(jobs, measure, BATCH_SIZE, BATCH_TOKENS)
    single = plan.pack(jobs, measure, 1, BATCH_TOKENS)
    timed(engine, single[:2], sampler, args.context)  # warm-up: first calls pay for allocation
    one = timed(engine, single, sampler, args.context)
    many = timed(engine, batched, sampler, args.context)
    return {
        "bench": "convert",
        "device": engine.device,
        "dtype": engine.precision,
        "model": engine.name,
        "units": len(jobs),
        "batch_size": BATCH_SIZE,
        "batches": len(batched),
        "batched": many,
        "one_per_call": one,
        "speedup_units_per_s": round(many["units_per_s"] / one["units_per_s"], 2),
        "speedup_tokens_per_s": round(many["tokens_per_s"] / max(1e-9, one["tokens_per_s"]), 2),
    }
