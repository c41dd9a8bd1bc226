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
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from model import edit_examples, examples
from model.card import hardware, record_run
from model.checkpoint import CheckpointError, load_network, load_stored, save_network, stored_tensors
from model.config import ModelConfig
from model.corpus import Corpus, SourceFile, build_corpus, default_roots, write_manifest
from model.engine import DEFAULT_CHECKPOINT, pick_device, pick_dtype
from model.network import Denoiser
from model.recipe import RECIPES, Recipe, attention_mask, shift_selection
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
    # Learning-rate schedule of a run: "cosine" decays from the peak over the whole run, so every session's run
    # anneals and the next warms up again from the annealed weights. "wsd" (warmup-stable-decay) stays at the
    # peak and decays only over the last `decay_share`: the weights at the start of the decay are kept
    # (stable.safetensors), and the next wsd run goes on from them, so sessions add up like one long run with
    # only the committed checkpoint annealed (Hu et al. 2024, MiniCPM; Hägele et al. 2024).
    lr_schedule: str = "cosine"
    decay_share: float = 0.2
    token_budget: int = 0  # 0: no token limit
    save_every_s: float = 300.0
    seed: int = 0
    device: str = "auto"
    resume: bool = True
    recipe: str = "mdlm"  # a name in model.recipe.RECIPES
    ar_tokens: int | None = None  # overrides of the recipe's phase lengths (None: the recipe's own)
    anneal_tokens: int | None = None
    # torch.compile the network for training steps: fused kernels, 1.32x the steps per second of eager mode on one
    # CPU thread in bf16, 1.12x in float32 (session 35, `instant-edit bench --train`); the first step compiles
    # (24-110 s here).
    compile: bool = False
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
    stable_step: int = 0  # the step whose weights are in stable.safetensors (0: none kept)
    stable_tokens: int = 0


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


def recipe_of(cfg: TrainConfig) -> Recipe:
    """The configured recipe with any phase lengths the command line overrides."""
    if cfg.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {cfg.recipe!r}; choose from {sorted(RECIPES)}")
    recipe = RECIPES[cfg.recipe]
    if cfg.ar_tokens is not None:
        recipe = replace(recipe, ar_tokens=cfg.ar_tokens)
    if cfg.anneal_tokens is not None:
        recipe = replace(recipe, anneal_tokens=cfg.anneal_tokens)
    return recipe


def window_for(cfg: TrainConfig, tokens_seen: int, longest: int | None = None) -> tuple[int, int]:
    """(sequence length, batch size) at this point of the curriculum, at most `longest` long."""
    seq_len = cfg.seq_len
    for limit, length in cfg.curriculum if recipe_of(cfg).curricula else ():
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
    recipe = recipe_of(cfg)
    infill = rng.random() < cfg.infill_share
    longest = rng.choice(cfg.infill_seq_lens) if infill else None
    seq_len, batch_size = window_for(cfg, tokens_seen, longest)
    rows: list[tuple[list[int], list[tuple[int, int]]]] = []  # ids, regions (start, length)
    while len(rows) < batch_size:
        f = sampler.draw()
        if infill and recipe.edit_share and rng.random() < recipe.edit_share:
            edited = edit_examples.edit_example(tok, f.text, f.language, seq_len, rng)
            if edited and edited.budget > 0:
                rows.append((edited.ids, [(edited.span_start, edited.budget)]))
        elif infill and recipe.holes_per_row[1] > 1:
            dense = examples.multi_infill_example(tok, f.text, f.language, seq_len, rng, rng.randint(*recipe.holes_per_row))
            if dense:
                rows.append((dense.ids, dense.holes))
        elif infill:
            made = examples.infill_example(tok, f.text, f.language, seq_len, rng)
            if made and made[0].budget > 0:
                rows.append((made[0].ids, [(made[0].span_start, made[0].budget)]))
        else:
            ids = examples.window_example(tok, f.text, seq_len, rng)
            if len(ids) >= 16:
                rows.append((ids, [(0, len(ids))]))
    return mask_rows(rows, tok.special.pad, tok.special.mask, cfg, rng, tokens_seen)


def make_ar_batch(tok: CodeTokenizer, sampler: FileSampler, cfg: TrainConfig, rng: random.Random):
    """Plain windows for next-token training: every position but the last predicts the token after it."""
    rows: list[list[int]] = []
    while len(rows) < cfg.batch_size:
        ids = examples.window_example(tok, sampler.draw().text, cfg.seq_len, rng)
        if len(ids) >= 16:
            rows.append(ids)
    ids, key_mask = pad_rows(rows, tok.special.pad)
    select = shift_selection(key_mask)  # every real position that has a real token after it
    targets = ids[:, 1:][key_mask[:, 1:]]
    weights = torch.full((len(targets),), len(rows) / len(targets))  # the mean over tokens, per row as below
    return {"ids": ids, "key_mask": key_mask, "select": select, "targets": targets, "weights": weights}


def pad_rows(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows of ids into a (B, T) batch; the key mask marks the real positions."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    key_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        key_mask[i, : len(row)] = True
    return ids, key_mask


def mask_rows(rows, pad: int, mask: int, cfg: TrainConfig, rng: random.Random, tokens_seen: int):
    """Pad rows into a batch and mask a random share t of each row's regions, weighted 1/t (MDLM/LLaDA).

    With shifted logits (recipes that start left to right) the output at i-1 reads token i, so position 0 is
    never masked and `select` names the reading positions.
    """
    recipe = recipe_of(cfg)
    curricula = recipe.curricula
    t_max = next((t for limit, t in cfg.mask_curriculum if tokens_seen < limit), 1.0) if curricula else 1.0
    elbo = tokens_seen >= cfg.elbo_weighting_from or not curricula
    ids, key_mask = pad_rows([row for row, _ in rows], pad)
    width = ids.shape[1]
    masked = torch.zeros((len(rows), width), dtype=torch.bool)
    weight = torch.zeros((len(rows), width))
    for i, (_, regions) in enumerate(rows):
        t = rng.uniform(0.05, t_max)
        area = torch.zeros(width, dtype=torch.bool)
        for start, length in regions:
            area[start : start + length] = True
        if recipe.logit_shift:
            area[0] = False
        if not area.any():  # a one-token hole at a row's first position, unreadable when shifted: nothing to train
            continue
        chosen = area & (torch.rand(width) < t)
        if not chosen.any():
            spots = area.nonzero().flatten()
            chosen[spots[rng.randrange(len(spots))]] = True
        masked[i] = chosen
        weight[i, area] = 1.0 / (t * int(area.sum())) if elbo else 1.0
    targets = ids[masked]
    ids = ids.masked_fill(masked, mask)
    if not elbo:  # a plain mean over masked tokens, scaled so the loss reads the same per row
        weight = weight / masked.sum() * len(rows)
    select = shift_selection(masked) if recipe.logit_shift else masked
    return {"ids": ids, "key_mask": key_mask, "select": select, "targets": targets, "weights": weight[masked]}


STABLE_WEIGHTS = "stable.safetensors"


def lr_at(cfg: TrainConfig, steps: int, progress: float) -> float:
    """Linear warmup over a run's first steps, then the schedule down to 10% of the peak by the run's end.

    Every run (a session's share of training) warms up again: a resumed run may start with fresh optimizer
    moments, and the warm restart costs a few hundred steps at most. "cosine" decays over the whole run; "wsd"
    holds the peak and decays over the last `decay_share` of it, as 1 - sqrt (Hägele et al. 2024's best shape).
    """
    if steps < cfg.warmup_steps:
        return cfg.lr * (steps + 1) / cfg.warmup_steps
    done = min(1.0, progress)
    if cfg.lr_schedule == "wsd":
        into = max(0.0, done - (1.0 - cfg.decay_share)) / cfg.decay_share
        return cfg.lr * (0.1 + 0.9 * (1.0 - math.sqrt(into)))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def decaying(cfg: TrainConfig, progress: float) -> bool:
    return cfg.lr_schedule == "wsd" and progress >= 1.0 - cfg.decay_share


def keep_stable(model: Denoiser, state: TrainState, folder: Path) -> None:
    """The weights where a wsd run's decay begins: where the next wsd run goes on from."""
    save_file(stored_tensors(model), str(folder / STABLE_WEIGHTS))
    state.stable_step, state.stable_tokens = state.step, state.tokens_seen


def restore_stable(model: Denoiser, folder: Path) -> bool:
    """Load the kept stable weights into `model`; False when there are none or they no longer fit (a grown
    network), and the run then goes on from the folder's own weights."""
    path = folder / STABLE_WEIGHTS
    if not path.is_file():
        return False
    try:
        load_stored(model, load_file(str(path)), folder)
    except CheckpointError:
        return False
    return True


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


CHECKPOINT_FILES = (
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "train_state.json", "train_config.json", "train_log.jsonl", "runs.jsonl", "optimizer.safetensors",
    STABLE_WEIGHTS,
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# A run in training that has not yet beaten the shipped model: committed so the next session goes on with it.
CANDIDATE_CHECKPOINT = DEFAULT_CHECKPOINT.parent / "candidate"


def last_committed_run() -> Path:
    """The run `--resume` continues: the committed candidate when there is one, else the shipped model."""
    return CANDIDATE_CHECKPOINT if (CANDIDATE_CHECKPOINT / "train_state.json").is_file() else DEFAULT_CHECKPOINT


def seed_run_folder(cfg: TrainConfig, resume_from: Path | None, tokenizer_from: Path | None) -> None:
    """Start `out` from another folder: a whole checkpoint to continue (`resume_from`), or only its tokenizer.

    Only an empty `out` is seeded, so a run that already lives there is never overwritten. A committed
    checkpoint has no optimizer state; the run then starts with fresh moments (and warms up again).
    """
    if (cfg.out / "train_state.json").exists():
        return
    cfg.out.mkdir(parents=True, exist_ok=True)
    source, names = (resume_from, CHECKPOINT_FILES) if resume_from else (tokenizer_from, TOKENIZER_FILES)
    if source is None:
        return
    if not (source / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{source} holds no checkpoint (no tokenizer.json)")
    if resume_from and not (source / "train_state.json").is_file():
        raise FileNotFoundError(f"{source} holds no training state (train_state.json) to resume")
    for name in names:
        if (source / name).is_file():
            shutil.copy2(source / name, cfg.out / name)


def stored_recipe(folder: Path) -> str | None:
    """The recipe a run folder was trained with (runs before recipes existed trained `mdlm`)."""
    path = folder / "train_config.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("recipe", "mdlm")


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
        logit_shift=recipe_of(cfg).logit_shift,
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
    # A resumed or grown run trains the checkpoint's network, whatever the command line's size flags said: the
    # fields the two configs share are the network's shape.
    for f in fields(model.cfg):
        if f.name in cfg_dict:
            cfg_dict[f.name] = getattr(model.cfg, f.name)
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


def training_autocast(device: str):
    """bf16 autocast wherever inference would run bf16: CUDA, and CPUs that multiply bf16 in hardware (4x faster
    training steps measured here); disabled elsewhere. Also whether it is on."""
    bf16 = pick_dtype(device) == torch.bfloat16
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16), bf16


def compiled(model: Denoiser) -> torch.nn.Module:
    """The network compiled for training steps; it shares `model`'s parameters, so checkpoints and the optimizer
    keep using `model`. Dynamic shapes: rows and windows change length from step to step."""
    return torch.compile(model, dynamic=True)


def precision_name(bf16: bool, compiled_steps: bool) -> str:
    """How a run's steps computed, as runs.jsonl and the bench report it."""
    return ("bf16 autocast" if bf16 else "float32") + (", compiled" if compiled_steps else "")


def forward(step_net, model: Denoiser, batch: dict[str, torch.Tensor], attn: torch.Tensor | None):
    """The step's forward pass, and the network to use from now on: when torch.compile cannot build the compiled
    one (no C compiler, an unsupported backend), the run says so and goes on in eager mode instead of failing."""
    args = {"key_mask": batch["key_mask"], "select": batch["select"], "attn_mask": attn}
    if step_net is model:
        return model(batch["ids"], **args), model
    try:
        return step_net(batch["ids"], **args), step_net
    except torch._dynamo.exc.TorchDynamoException as e:
        print(f"instant-edit train: torch.compile failed, training in eager mode ({str(e).splitlines()[0]})",
              file=sys.stderr)
        return model(batch["ids"], **args), model


def train_step(step_net, model: Denoiser, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               attn: torch.Tensor | None, autocast) -> tuple[torch.Tensor, torch.nn.Module]:
    """One optimizer step on `batch`: the loss (per row, each row's tokens weighted as `mask_rows` says) and the
    network to use next (see `forward`)."""
    with autocast:
        out, step_net = forward(step_net, model, batch, attn)
    ce = F.cross_entropy(out.logits.float(), batch["targets"], reduction="none")
    loss = (ce * batch["weights"]).sum() / batch["ids"].shape[0]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss, step_net


def new_optimizer(model: Denoiser, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (not on norms and biases)."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )


def train(cfg: TrainConfig, on_log=None) -> TrainState:
    """Train for `time_budget_s` more seconds (or until `token_budget` tokens in all); returns the final state.

    `on_log(state, metrics)` is called every 20 steps.
    """
    device = pick_device(cfg.device)
    recipe = recipe_of(cfg)
    corpus = prepare_corpus(cfg)
    tok = prepare_tokenizer(cfg, corpus)
    resuming = cfg.resume and (cfg.out / "train_state.json").exists()
    model = load_network(cfg.out, device=device) if resuming else new_model(cfg, tok).to(device)
    if model.cfg.logit_shift != recipe.logit_shift:
        raise ValueError(f"{cfg.out} holds a model {'with' if model.cfg.logit_shift else 'without'} shifted "
                         f"logits; recipe {recipe.name!r} needs the other kind")
    model.train()
    opt = new_optimizer(model, cfg)
    state = TrainState()
    from_stable = None
    if resuming:
        if (cfg.out / "optimizer.safetensors").exists():
            restore_optimizer(opt, cfg.out)
        state = TrainState(**json.loads((cfg.out / "train_state.json").read_text()))
        # A wsd run goes on from the last run's stable weights, not from its annealed ones (unless that run
        # stopped before its decay: then the folder's weights are the stable trajectory itself).
        if cfg.lr_schedule == "wsd" and 0 < state.stable_step < state.step and restore_stable(model, cfg.out):
            from_stable = {"step": state.stable_step, "tokens": state.stable_tokens}
    rng = random.Random(cfg.seed + state.step)
    torch.manual_seed(cfg.seed + state.step)
    sampler = FileSampler(corpus.train, rng)
    autocast, bf16 = training_autocast(device)
    step_net = compiled(model) if cfg.compile else model
    last_save = run_start = time.time()
    tokens_at_start, step_at_start, elapsed_at_start = state.tokens_seen, state.step, state.elapsed_s

    def progress() -> float:
        done = (state.elapsed_s - elapsed_at_start) / cfg.time_budget_s
        if cfg.token_budget:
            done = max(done, (state.tokens_seen - tokens_at_start) / max(1, cfg.token_budget - tokens_at_start))
        return done

    window: list[float] = []
    window_tokens, window_loss_tokens, window_start = 0, 0, time.time()
    while progress() < 1.0 and not (cfg.token_budget and state.tokens_seen >= cfg.token_budget):
        t0 = time.time()
        ar = recipe.in_ar_phase(state.tokens_seen)
        if ar:
            batch = make_ar_batch(tok, sampler, cfg, rng)
        else:
            batch = make_batch(tok, sampler, cfg, rng, state.tokens_seen)
        batch = {k: v.to(device) for k, v in batch.items()}
        share = 0.0 if ar else recipe.open_share(state.tokens_seen)
        attn = attention_mask(batch["ids"].shape[1], share)
        done = progress()
        if decaying(cfg, done) and state.stable_step <= step_at_start:
            keep_stable(model, state, cfg.out)
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, state.step - step_at_start, done)
        loss, step_net = train_step(step_net, model, opt, batch, None if attn is None else attn.to(device), autocast)
        n_tokens = int(batch["key_mask"].sum())
        state.step += 1
        state.tokens_seen += n_tokens
        state.elapsed_s += time.time() - t0
        window.append(loss.item())
        window_tokens += n_tokens
        window_loss_tokens += len(batch["targets"])
        if state.step % 20 == 0:
            metrics = {
                "step": state.step,
                "loss": sum(window) / len(window),
                "tokens_per_s": window_tokens / (time.time() - window_start),
                "loss_tokens_per_step": window_loss_tokens / len(window),
                "phase": "ar" if ar else "diffusion",
                "lr": opt.param_groups[0]["lr"],
                "tokens_seen": state.tokens_seen,
            }
            state.losses.append(metrics["loss"])
            with open(cfg.out / "train_log.jsonl", "a") as fh:
                fh.write(json.dumps(metrics) + "\n")
            if on_log:
                on_log(state, metrics)
            window, window_tokens, window_loss_tokens, window_start = [], 0, 0, time.time()
        if time.time() - last_save > cfg.save_every_s:
            save_training(model, opt, state, cfg)
            last_save = time.time()
    save_training(model, opt, state, cfg)
    record_run(
        cfg.out,
        {
            "hardware": hardware(),
            "precision": precision_name(bf16, step_net is not model),
            "recipe": recipe.name,
            "schedule": "cosine" if cfg.lr_schedule == "cosine" else f"wsd, last {cfg.decay_share:.0%} decaying",
            **({"from_stable": from_stable} if from_stable else {}),
            "wall_s": round(time.time() - run_start, 1),
            "tokens": state.tokens_seen - tokens_at_start,
            "steps": state.step - step_at_start,
            "final_loss": state.losses[-1] if state.losses else float("nan"),
        },
    )
    return state
