"""`instant-edit bench --gpu`: tokens/s and peak memory of a 7B-shaped Dream-family network on one GPU.

A random network with Qwen2-7B shapes (Dream-v0 / Dream-Coder / DiffuCoder) in bf16 rewrites a 256-token span
inside 2,048 tokens of context: one token per step vs a fixed 8 tokens per step, with and without the context
cache, batch 1 and 8; then a block-diffusion shape (Fast-dLLM v2 7B: block 32, sub-blocks of 8) on the same
rewrite at batch 1, all context before the span. Slow modes are timed for their first `measured_steps` steps and projected to the whole span
(first step, which fills the cache, plus the mean of the later ones); the report says which. `--tiny` runs the
same code on tiny shapes, on the CPU, so the check itself is tested without a GPU. `--model` measures a real
checkpoint instead of random weights. One JSON object comes out.
"""

from __future__ import annotations

import itertools
import math
import random
import resource
import time
from dataclasses import asdict, dataclass, replace

import torch

from model.config import ModelConfig
from model.network import Denoiser
from model.sampler import DenoiseCancelled, Row, Sampler, SamplerConfig
from model.tokenizer import SpecialIds

QWEN2_7B = ModelConfig(  # Dream-v0-7B / Dream-Coder-v0-7B / DiffuCoder-7B shapes
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    max_position_embeddings=131072,
    rope_theta=1e6,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
    attention_bias=True,
    mask_token_id=151666,
    pad_token_id=151643,
    bos_token_id=151665,
    eos_token_id=151643,
    logit_shift=True,
)
TINY = replace(
    QWEN2_7B,
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    mask_token_id=1000,
    pad_token_id=1001,
    bos_token_id=1002,
    eos_token_id=1001,
)
# Fast_dLLM_v2_7B: the Qwen2.5-7B body with `bd_size` 32, decoded in sub-blocks of 8 (token shift, as Dream's).
FAST_DLLM_7B = replace(QWEN2_7B, block_size=32, sub_block_size=8)
TINY_BLOCK = replace(TINY, block_size=8, sub_block_size=4)
TARGET_TOK_S = 1500  # issue 7: 8 tokens/step with the cache, batch 1, one H100/H200


@dataclass(frozen=True)
class GpuBenchConfig:
    tiny: bool = False
    device: str = "cuda"
    context: int = 2048
    span: int = 256
    batches: tuple[int, ...] = (1, 8)
    tokens_per_step: tuple[int, ...] = (1, 8)
    measured_steps: int = 48  # steps timed per mode before projecting the rest
    seed: int = 0
    model: str | None = None

    @classmethod
    def from_args(cls, args) -> GpuBenchConfig:
        tiny = bool(getattr(args, "tiny", False))
        device = getattr(args, "device", "cpu")
        if not tiny and device == "cpu":
            device = "cuda"  # the bench subcommand defaults to the CPU; the full check is for a GPU
        base = cls(tiny=True, device=device, context=256, span=64, measured_steps=16) if tiny else cls(device=device)
        return replace(base, seed=getattr(args, "seed", 0), model=getattr(args, "model", None))


@dataclass(frozen=True)
class ModeResult:
    batch: int
    tokens_per_step: int
    cache: bool
    steps: int  # steps the whole span takes
    steps_measured: int
    projected: bool  # True when the later steps were extrapolated from the measured ones
    seconds: float
    tokens_per_s: float
    ms_per_step: float
    peak_mem_gib: float


def random_network(cfg: ModelConfig, device: str, dtype: torch.dtype, seed: int) -> Denoiser:
    """A network of `cfg`'s shapes with random weights, allocated directly on the device (no host copy)."""
    with torch.device("meta"):
        net = Denoiser(cfg)
    net = net.to_empty(device=device).to(dtype)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02, generator=gen)
    return net.eval()


def make_rows(cfg: ModelConfig, special: SpecialIds, batch: int, context: int, span: int, seed: int) -> list[Row]:
    """Rows of random text: BOS and 3/4 of the context before the span, the rest after it (a block-causal model
    sees no suffix: all of its context comes before the span)."""
    rng = random.Random(seed)
    top = min(cfg.vocab_size, special.mask, special.pad, special.bos)  # ordinary ids lie below the specials
    rows = []
    for _ in range(batch):
        ids = [rng.randrange(top) for _ in range(context - 1)]
        cut = context if cfg.block_size else context * 3 // 4
        rows.append(Row([special.bos] + ids[: cut - 1], ids[cut - 1 :], [special.mask] * span))
    return rows


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def run_mode(net, special, cfg: GpuBenchConfig, batch: int, k: int, cache: bool, cap: int | None = None) -> ModeResult:
    """Denoise one batch with a fixed k tokens per step; time each step; project past the measured ones."""
    cap = cap or cfg.measured_steps
    rows = make_rows(net.cfg, special, batch, cfg.context, cfg.span, cfg.seed)
    sampler = Sampler(net, special, SamplerConfig(schedule="fixed", tokens_per_step=k, use_cache=cache, grow=False))
    stamps: list[float] = []
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    sync(cfg.device)
    start = time.perf_counter()
    try:
        sampler.run(rows, lambda _: stamps.append(time.perf_counter()), lambda: len(stamps) >= cap)
    except DenoiseCancelled:
        pass
    sync(cfg.device)
    # A block model commits at most a (sub-)block per step; the span starts on a block boundary (context 2,048).
    unit = net.cfg.sub_block_size or net.cfg.block_size or cfg.span
    steps = math.ceil(cfg.span / min(k, unit))
    first = stamps[0] - start
    later = [b - a for a, b in itertools.pairwise(stamps)]
    mean_later = sum(later) / len(later) if later else first
    seconds = first + mean_later * (steps - 1)
    return ModeResult(
        batch=batch,
        tokens_per_step=k,
        cache=cache,
        steps=steps,
        steps_measured=len(stamps),
        projected=len(stamps) < steps,
        seconds=round(seconds, 4),
        tokens_per_s=round(batch * cfg.span / seconds, 1),
        ms_per_step=round(1000 * seconds / steps, 3),
        peak_mem_gib=round(peak_memory_gib(cfg.device), 3),
    )


def load_network(cfg: GpuBenchConfig) -> tuple[Denoiser, SpecialIds, str]:
    """A real checkpoint when `--model` is given, else random weights of the 7B (or tiny) shapes."""
    dtype = torch.bfloat16 if cfg.device.startswith("cuda") else torch.float32
    if cfg.model:
        import model

        engine = model.load(cfg.model, device=cfg.device)
        return engine.net, engine.special, engine.name
    shapes = TINY if cfg.tiny else QWEN2_7B
    special = SpecialIds(shapes.mask_token_id, shapes.pad_token_id, shapes.eos_token_id, shapes.bos_token_id)
    return (
        random_network(shapes, cfg.device, dtype, cfg.seed),
        special,
        "random-qwen2-" + ("tiny" if cfg.tiny else "7b"),
    )


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} threads)"


def ratio(results: list[ModeResult], a: dict, b: dict) -> float | None:
    def pick(sel: dict) -> ModeResult | None:
        return next((r for r in results if all(getattr(r, k) == v for k, v in sel.items())), None)

    ra, rb = pick(a), pick(b)
    return round(ra.tokens_per_s / rb.tokens_per_s, 2) if ra and rb else None


def run_gpu_bench_config(cfg: GpuBenchConfig) -> dict:
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("instant-edit bench --gpu: no CUDA device here; use --tiny to run the check on the CPU")
    torch.manual_seed(cfg.seed)
    net, special, name = load_network(cfg)
    with torch.inference_mode():
        run_mode(net, special, cfg, 1, 8, True, cap=2)  # warm-up: kernels, allocator
        results = [
            run_mode(net, special, cfg, b, k, cache)
            for b in cfg.batches
            for k in cfg.tokens_per_step
            for cache in (True, False)
        ]
    best = ratio(
        results, {"batch": 1, "tokens_per_step": 8, "cache": True}, {"batch": 1, "tokens_per_step": 8, "cache": False}
    )
    per_step = ratio(
        results, {"batch": 1, "tokens_per_step": 8, "cache": True}, {"batch": 1, "tokens_per_step": 1, "cache": True}
    )
    headline = next((r for r in results if (r.batch, r.tokens_per_step, r.cache) == (1, 8, True)), None)
    params = net.num_parameters()
    dtype = str(next(net.parameters()).dtype).removeprefix("torch.")
    del net  # the block model below needs the memory
    if cfg.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {
        "card": device_name(cfg.device),
        "model": name,
        "parameters_b": round(params / 1e9, 3),
        "dtype": dtype,
        "context_tokens": cfg.context,
        "span_tokens": cfg.span,
        "results": [asdict(r) for r in results],
        "cache_speedup_b1_k8": best,
        "k8_vs_k1_b1_cache": per_step,
        "target_tok_s": TARGET_TOK_S,
        "meets_target": bool(headline and not cfg.tiny and headline.tokens_per_s >= TARGET_TOK_S),
        "block": None if cfg.model else block_bench(cfg),
    }


def block_bench(cfg: GpuBenchConfig) -> dict:
    """A block-diffusion shape (Fast-dLLM v2 7B, random weights): the same rewrite at batch 1, all context before
    the span, decoded block by block with the exact block cache; 1 and 8 tokens per step (8: a sub-block)."""
    shapes = TINY_BLOCK if cfg.tiny else FAST_DLLM_7B
    dtype = torch.bfloat16 if cfg.device.startswith("cuda") else torch.float32
    special = SpecialIds(shapes.mask_token_id, shapes.pad_token_id, shapes.eos_token_id, shapes.bos_token_id)
    net = random_network(shapes, cfg.device, dtype, cfg.seed)
    with torch.inference_mode():
        run_mode(net, special, cfg, 1, 8, True, cap=2)
        results = [run_mode(net, special, cfg, 1, k, True) for k in cfg.tokens_per_step]
    return {
        "model": "random-fast-dllm-v2-" + ("tiny" if cfg.tiny else "7b"),
        "parameters_b": round(net.num_parameters() / 1e9, 3),
        "block_size": shapes.block_size,
        "sub_block_size": shapes.sub_block_size,
        "results": [asdict(r) for r in results],
    }


def run_gpu_bench(args) -> dict:
    """Entry point for `instant-edit bench --gpu [--tiny] [--model PATH_OR_ID] [--device cuda:N]`."""
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    return run_gpu_bench_config(GpuBenchConfig.from_args(args))


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default=None)
    p.add_argument("--seed", type=int, default=0)
    print(json.dumps(run_gpu_bench(p.parse_args())))
