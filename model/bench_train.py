"""Training throughput: eager steps against torch.compile'd ones, on the same batches under the same load.

Two copies of one checkpoint take turns: each batch is one step for both, in alternating order, so a busy
machine slows both alike and the ratio holds where absolute figures drift. The first compiled step (the compile
itself) is timed apart. The losses of the first timed batch show the two follow the same weights.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from model.checkpoint import load_network
from model.corpus import build_corpus, default_roots
from model.tokenizer import CodeTokenizer
from model.train import (
    FileSampler,
    TrainConfig,
    compiled,
    last_committed_run,
    make_batch,
    new_optimizer,
    precision_name,
    stored_recipe,
    train_step,
    training_autocast,
)


@dataclass
class TrainBenchConfig:
    model: Path | None = None  # None: the run sessions train (model/weights/candidate, else the default)
    steps: int = 30
    threads: int = 1  # as sessions train: one thread on one core
    seed: int = 0
    roots: list[Path] = field(default_factory=list)  # empty: the machine's own sources, as `instant-edit train`
    max_bytes_per_root: int = 30_000_000
    # Batches shaped as at this point of a run (past the window and mask-ratio curricula).
    tokens_seen: int = 400_000_000


def batches(folder: Path, cfg: TrainBenchConfig) -> list[dict[str, torch.Tensor]]:
    train_cfg = TrainConfig(out=folder, recipe=stored_recipe(folder) or "mdlm", seed=cfg.seed)
    corpus = build_corpus(cfg.roots or default_roots(), cfg.max_bytes_per_root)
    rng = random.Random(cfg.seed)
    sampler = FileSampler(corpus.train, rng)
    tok = CodeTokenizer.load(folder)
    return [make_batch(tok, sampler, train_cfg, rng, cfg.tokens_seen) for _ in range(cfg.steps + 1)]


def run_train_bench(cfg: TrainBenchConfig, report=lambda line: None) -> dict:
    torch.set_num_threads(cfg.threads)
    folder = cfg.model or last_committed_run()
    work = batches(folder, cfg)
    eager = load_network(folder)
    eager.train()
    twin = copy.deepcopy(eager)
    opt_cfg = TrainConfig(out=folder, lr=1e-5)
    nets = {"eager": (eager, eager, new_optimizer(eager, opt_cfg)),
            "compiled": (compiled(twin), twin, new_optimizer(twin, opt_cfg))}
    autocast, bf16 = training_autocast("cpu")

    def step(name: str, batch) -> tuple[float, float]:
        step_net, model, opt = nets[name]
        t0 = time.perf_counter()
        loss, used = train_step(step_net, model, opt, batch, None, autocast)
        if used is not step_net:
            raise RuntimeError("torch.compile failed on this machine; see the message above")
        return time.perf_counter() - t0, loss.item()

    first_losses = {name: step(name, work[0]) for name in ("compiled", "eager")}  # the compile happens here
    report(f"compiled in {first_losses['compiled'][0]:.1f} s")
    seconds = {"eager": 0.0, "compiled": 0.0}
    tokens = 0
    for i, batch in enumerate(work[1:]):
        for name in (("eager", "compiled") if i % 2 else ("compiled", "eager")):
            seconds[name] += step(name, batch)[0]
        tokens += int(batch["key_mask"].sum())
    return {
        "model": str(folder),
        "precision": precision_name(bf16, False),
        "threads": cfg.threads,
        "steps": cfg.steps,
        "compile_s": round(first_losses["compiled"][0], 1),
        "first_loss": {name: round(v[1], 4) for name, v in first_losses.items()},
        "ms_per_step": {name: round(s / cfg.steps * 1000, 1) for name, s in seconds.items()},
        "tokens_per_s": {name: round(tokens / s, 1) for name, s in seconds.items()},
        "speedup": round(seconds["eager"] / seconds["compiled"], 3),
    }
