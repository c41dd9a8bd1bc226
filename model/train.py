"""Training recipe for the embedded model: corpus -> tokenizer -> masked-diffusion training, resumable.

The loss is the MDLM/LLaDA bound: each example draws a mask ratio t, masks that share of its region, and
weights the cross-entropy of each masked token by 1/t (averaged over the region length). Most examples are span
infills in the server's shape (a hole in real code with a budget longer than the truth, padded), the rest plain
masked windows.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from model import examples
from model.card import hardware, record_run
from model.checkpoint import load_network, save_network
from model.config import ModelConfig
from model.corpus import Corpus, SourceFile, build_corpus, default_roots, write_manifest
from model.engine import pick_device, pick_dtype
from model.network import Denoiser
from model.tokenizer import CodeTokenizer, save_tokenizer, special_ids_from, train_tokenizer

LANGUAGE_WEIGHTS = {"python": 0.75, "javascript": 0.1, "typescript": 0.05, "lua": 0.05, "c": 0.05}


@dataclass
class TrainConfig:
    out: Path
    roots: list[Path] = field(default_factory=list)  # empty: the machine's own sources (corpus.default_roots)
    max_bytes_per_root: int = 30_000_000
    vocab_size: int = 4096
    seq_len: int = 512
    batch_size: int = 8
    # Curriculum: (tokens_seen limit, sequence length) pairs, shortest first. A masked position sees its
    # neighbours only through attention; over 512 positions that signal is diluted and training sits at the
    # unigram loss for a long time, so attention first learns locality on short windows. Tokens per step stay
    # the same (the batch grows as the window shrinks).
    curriculum: tuple[tuple[int, int], ...] = ((2_000_000, 64), (6_000_000, 128))
    # Mask-ratio curriculum: (tokens_seen limit, highest mask ratio). With most of a window masked a position
    # has few neighbours to learn from, and a small model never leaves the unigram loss; with at most a
    # quarter masked it learns to read context within a few hundred steps. Past the last limit t ~ U(0.05, 1).
    mask_curriculum: tuple[tuple[int, float], ...] = ((4_000_000, 0.25), (8_000_000, 0.5))
    # The MDLM/LLaDA 1/t weighting from this many tokens on; before it every masked token counts the same. The
    # weighting lets a row with three masked tokens count as much as one with sixteen, which at this scale
    # measurably slows the first phase (same steps, 1-layer probe: 6.1 weighted vs 5.2 uniform cross-entropy).
    elbo_weighting_from: int = 8_000_000
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.05
    infill_share: float = 0.6  # share of steps that train span infill (the rest: plain masked windows)
    # Window lengths an infill step draws from. Only the hole's positions carry loss, so a 512-token row spends
    # most of its compute on context: shorter rows give several times the infill examples for the same compute
    # (the 512-token choice keeps long context and long holes in the mix).
    infill_seq_lens: tuple[int, ...] = (128, 256, 512)
    time_budget_s: float = 3600.0
    token_budget: int = 0  # 0: no token limit
    save_every_s: float = 300.0
    seed: int = 0
    device: str = "auto"
    resume: bool = True
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 768


@dataclass
class TrainState:
    step: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    losses: list[float] = field(default_factory=list)  # mean loss of each logging window


class FileSampler:
    """Draws files by language weight, then by size within a language."""

    def __init__(self, files: list[SourceFile], rng: random.Random):
        self.rng = rng
        self.by_lang: dict[str, list[SourceFile]] = {}
        for f in files:
            self.by_lang.setdefault(f.language, []).append(f)
        self.langs = sorted(self.by_lang)
        self.lang_weights = [LANGUAGE_WEIGHTS.get(lang, 0.05) for lang in self.langs]
        self.sizes = {lang: [len(f.text) for f in fs] for lang, fs in self.by_lang.items()}

    def draw(self) -> SourceFile:
        lang = self.rng.choices(self.langs, self.lang_weights)[0]
        return self.rng.choices(self.by_lang[lang], self.sizes[lang])[0]


def window_for(cfg: TrainConfig, tokens_seen: int, longest: int | None = None) -> tuple[int, int]:
    """(sequence length, batch size) at this point of the curriculum, at most `longest` long."""
    seq_len = cfg.seq_len
    for limit, length in cfg.curriculum:
        if tokens_seen < limit and length < cfg.seq_len:
            seq_len = length
            break
    seq_len = min(seq_len, longest or seq_len)
    return seq_len, cfg.batch_size * cfg.seq_len // seq_len  # tokens per step stay the same


def make_batch(
    tok: CodeTokenizer, sampler: FileSampler, cfg: TrainConfig, rng: random.Random, tokens_seen: int = 0
) -> dict[str, torch.Tensor]:
    """ids (B, T) with masks applied, targets, per-token loss weights, key mask.

    A step trains either span infill (rows of a length drawn from `infill_seq_lens`) or plain masked windows,
    so rows of one batch have about the same length and little compute goes to padding.
    """
    infill = rng.random() < cfg.infill_share
    longest = rng.choice(cfg.infill_seq_lens) if infill else None
    seq_len, batch_size = window_for(cfg, tokens_seen, longest)
    rows: list[tuple[list[int], int, int]] = []  # ids, region start, region length
    while len(rows) < batch_size:
        f = sampler.draw()
        if infill:
            made = examples.infill_example(tok, f.text, f.language, seq_len, rng)
            if made and made[0].budget > 0:
                rows.append((made[0].ids, made[0].span_start, made[0].budget))
        else:
            ids = examples.window_example(tok, f.text, seq_len, rng)
            if len(ids) >= 16:
                rows.append((ids, 0, len(ids)))
    return mask_rows(rows, tok.special.pad, tok.special.mask, cfg, rng, tokens_seen)


def mask_rows(rows, pad: int, mask: int, cfg: TrainConfig, rng: random.Random, tokens_seen: int):
    """Pad rows into a batch and mask a random share t of each row's region, weighted 1/t (MDLM/LLaDA)."""
    t_max = next((t for limit, t in cfg.mask_curriculum if tokens_seen < limit), 1.0)
    elbo = tokens_seen >= cfg.elbo_weighting_from
    width = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    key_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    masked = torch.zeros((len(rows), width), dtype=torch.bool)
    weight = torch.zeros((len(rows), width))
    for i, (row, start, length) in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        key_mask[i, : len(row)] = True
        t = rng.uniform(0.05, t_max)
        region = torch.rand(length) < t
        if not region.any():
            region[rng.randrange(length)] = True
        masked[i, start : start + length] = region
        weight[i, start : start + length] = 1.0 / (t * length) if elbo else 1.0
    targets = ids[masked]
    ids = ids.masked_fill(masked, mask)
    if not elbo:  # a plain mean over masked tokens, scaled so the loss reads the same per row
        weight = weight / masked.sum() * len(rows)
    return {"ids": ids, "key_mask": key_mask, "masked": masked, "targets": targets, "weights": weight[masked]}


def lr_at(cfg: TrainConfig, state: TrainState) -> float:
    """Linear warmup, then cosine decay to 10% over the time (or token) budget."""
    if state.step < cfg.warmup_steps:
        return cfg.lr * (state.step + 1) / cfg.warmup_steps
    progress = state.elapsed_s / cfg.time_budget_s
    if cfg.token_budget:
        progress = max(progress, state.tokens_seen / cfg.token_budget)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def prepare_corpus(cfg: TrainConfig) -> Corpus:
    roots = cfg.roots or default_roots()
    corpus = build_corpus(roots, cfg.max_bytes_per_root)
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_manifest(corpus, cfg.out / "corpus_manifest.jsonl")
    (cfg.out / "corpus_summary.json").write_text(json.dumps(corpus.summary(), indent=2) + "\n")
    return corpus


def prepare_tokenizer(cfg: TrainConfig, corpus: Corpus) -> CodeTokenizer:
    """Reuse the tokenizer in `out` when resuming; else train one on a sample of the training files."""
    if not (cfg.out / "tokenizer.json").exists():
        rng = random.Random(cfg.seed)
        sample = rng.sample(corpus.train, min(len(corpus.train), 3000))
        save_tokenizer(train_tokenizer((f.text for f in sample), cfg.vocab_size), cfg.out)
    return CodeTokenizer.load(cfg.out)


def new_model(cfg: TrainConfig, tok: CodeTokenizer) -> Denoiser:
    sp = special_ids_from(tok.tok)
    mcfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=max(1024, 2 * cfg.seq_len),
        mask_token_id=sp.mask,
        pad_token_id=sp.pad,
        bos_token_id=sp.bos,
        eos_token_id=sp.eos,
    )
    torch.manual_seed(cfg.seed)
    model = Denoiser(mcfg)
    for name, p in model.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02 if "embed" in name else 0.02 / math.sqrt(2 * mcfg.num_hidden_layers))
        elif name.endswith("bias"):
            torch.nn.init.zeros_(p)
    return model


def save_training(model: Denoiser, opt: torch.optim.Optimizer, state: TrainState, cfg: TrainConfig) -> None:
    """Checkpoint the network (HF layout) and the optimizer (safetensors) so a run resumes exactly."""
    save_network(model, cfg.out)
    tensors = {}
    for i, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            tensors[f"{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    save_file(tensors, str(cfg.out / "optimizer.safetensors"))
    (cfg.out / "train_state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    cfg_dict = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    cfg_dict["roots"] = [str(r) for r in cfg.roots]
    (cfg.out / "train_config.json").write_text(json.dumps(cfg_dict, indent=2) + "\n")


def restore_optimizer(opt: torch.optim.Optimizer, folder: Path) -> None:
    tensors = load_file(str(folder / "optimizer.safetensors"))
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def train(cfg: TrainConfig, on_log=None) -> TrainState:
    """Train until the time or token budget is spent; returns the final state. `on_log(state, metrics)`."""
    device = pick_device(cfg.device)
    corpus = prepare_corpus(cfg)
    tok = prepare_tokenizer(cfg, corpus)
    resuming = cfg.resume and (cfg.out / "train_state.json").exists()
    model = load_network(cfg.out, device=device) if resuming else new_model(cfg, tok).to(device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    state = TrainState()
    if resuming:
        restore_optimizer(opt, cfg.out)
        state = TrainState(**json.loads((cfg.out / "train_state.json").read_text()))
    rng = random.Random(cfg.seed + state.step)
    torch.manual_seed(cfg.seed + state.step)
    sampler = FileSampler(corpus.train, rng)
    # bf16 autocast wherever inference would run bf16: CUDA, and CPUs that multiply bf16 in hardware (4x faster
    # training steps measured here).
    bf16 = pick_dtype(device) == torch.bfloat16
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)
    last_save = run_start = time.time()
    tokens_at_start = state.tokens_seen
    window: list[float] = []
    window_tokens, window_start = 0, time.time()
    while state.elapsed_s < cfg.time_budget_s and not (cfg.token_budget and state.tokens_seen >= cfg.token_budget):
        t0 = time.time()
        batch = {k: v.to(device) for k, v in make_batch(tok, sampler, cfg, rng, state.tokens_seen).items()}
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, state)
        with autocast:
            out = model(batch["ids"], key_mask=batch["key_mask"], select=batch["masked"])
        ce = F.cross_entropy(out.logits.float(), batch["targets"], reduction="none")
        loss = (ce * batch["weights"]).sum() / batch["ids"].shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n_tokens = int(batch["key_mask"].sum())
        state.step += 1
        state.tokens_seen += n_tokens
        state.elapsed_s += time.time() - t0
        window.append(loss.item())
        window_tokens += n_tokens
        if state.step % 20 == 0:
            metrics = {
                "step": state.step,
                "loss": sum(window) / len(window),
                "tokens_per_s": window_tokens / (time.time() - window_start),
                "lr": opt.param_groups[0]["lr"],
                "tokens_seen": state.tokens_seen,
            }
            state.losses.append(metrics["loss"])
            with open(cfg.out / "train_log.jsonl", "a") as fh:
                fh.write(json.dumps(metrics) + "\n")
            if on_log:
                on_log(state, metrics)
            window, window_tokens, window_start = [], 0, time.time()
        if time.time() - last_save > cfg.save_every_s:
            save_training(model, opt, state, cfg)
            last_save = time.time()
    save_training(model, opt, state, cfg)
    record_run(
        cfg.out,
        {
            "hardware": hardware(),
            "precision": "bf16 autocast" if bf16 else "float32",
            "wall_s": round(time.time() - run_start, 1),
            "tokens": state.tokens_seen - tokens_at_start,
            "final_loss": state.losses[-1] if state.losses else float("nan"),
        },
    )
    return state
