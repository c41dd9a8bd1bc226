"""The model card beside a checkpoint: what it is, what it was trained on, how, and how well it does."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from model.config import ModelConfig


def cpu_name() -> str:
    """The processor's model name (Linux), else the architecture: runs on different CPUs differ in speed."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} CPU"


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    threads = torch.get_num_threads()
    return f"{cpu_name()}, {threads} thread{'s' if threads != 1 else ''}"


def record_run(folder: Path, run: dict) -> None:
    """Append one training run (hardware, wall time, tokens) to the folder's run history."""
    with open(folder / "runs.jsonl", "a") as fh:
        fh.write(json.dumps(run) + "\n")


def read_runs(folder: Path) -> list[dict]:
    """The folder's run history, oldest first (empty when it has none)."""
    path = folder / "runs.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _loss(value) -> str:
    """A run's final loss; a soup of runs (model/average.py) trains nothing and has none."""
    return "" if value is None else f"{value:.3f}"


def read_json(path: Path):
    """A JSON file a run or an evaluation leaves in a checkpoint folder; None when it is not there."""
    return json.loads(path.read_text()) if path.exists() else None


def _corpus_lines(summary: dict | None) -> list[str]:
    if not summary:
        return ["(no corpus summary)"]
    lines = ["| root | bytes taken |", "|---|---|"]
    lines += [f"| `{root}` | {n:,} |" for root, n in summary["roots"].items()]
    lines += ["", "| split | language | files | bytes |", "|---|---|---|---|"]
    for split in ("train", "held_out"):
        for lang, s in sorted(summary[split].items()):
            lines.append(f"| {split} | {lang} | {s['files']:,} | {s['bytes']:,} |")
    return lines


def _eval_lines(results: dict | None) -> list[str]:
    if not results:
        return ["(not evaluated yet: run `instant-edit eval --write-card`)"]
    lines = ["| span kind | sampler | cases | exact match | edit similarity | still parses | NFE/token |",
             "|---|---|---|---|---|---|---|"]
    for kind, by_sampler in results.items():
        for name, m in by_sampler.items():
            if name == "likelihood":  # not a sampler: one-pass scores of the true span (eval --likelihood)
                lines.append(f"| {kind} | true span, one pass | {m['cases']} | hole CE {m['hole_ce']:.3f} | "
                             f"token accuracy {m['token_accuracy']:.1%} | | |")
                continue
            lines.append(
                f"| {kind} | {name} | {m['cases']} | {m['exact_match']:.1%} | {m['edit_similarity']:.3f} | "
                f"{m['parse_rate']:.1%} | {m['nfe_per_token']:.3f} |"
            )
    return lines


# Matched comparisons kept beside a checkpoint: file, section title. Each holds arms trained from the same start
# for the same wall time or token budget (its setup says which), evaluated on the same held-out holes.
COMPARISONS = (
    ("size_comparison.json", "Size comparison"),
    ("schedule_comparison.json", "Schedule comparison"),
    ("corpus_comparison.json", "Corpus-cap comparison"),
    ("lr_comparison.json", "Learning-rate comparison"),
    ("window_comparison.json", "Window-length comparison"),
)
# Soups of runs (model/average.py) against their members, hole by hole on the same held-out lines.
AVERAGING = ("averaging_comparison.json", "Averaging comparison")


def _arm_lines(comparison: dict) -> list[str]:
    """A matched comparison's arms side by side (the files in COMPARISONS). Arms may add `seed2`, exact lines on
    1000 more held-out holes, for a column of its own."""
    wide = any("seed2" in arm for arm in comparison["arms"])
    lines = [comparison["setup"], "",
             "| arm | layers | parameters | minutes | tokens | tok/s | hole CE line / lines / random | "
             "line exact / similarity / parse | 300 more holes: line exact / parse, lines parse |"
             + (" 1000 more lines (seed 2): exact / parse |" if wide else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if wide else "")]
    for arm in comparison["arms"]:
        ce, s0, s1 = arm["hole_ce"], arm["line"], arm["seed1"]
        row = (
            f"| {arm['name']} | {arm['layers']} | {arm['parameters']:,} | {arm['minutes']:.0f} | {arm['tokens']:,} | "
            f"{arm['tokens'] / (arm['minutes'] * 60):,.0f} | {ce[0]:.3f} / {ce[1]:.3f} / {ce[2]:.3f} | "
            f"{s0['exact_match']:.0%} / {s0['edit_similarity']:.3f} / {s0['parse_rate']:.0%} | "
            f"{s1['line_exact']:.1%} / {s1['line_parse']:.1%}, {s1['lines_parse']:.1%} |")
        if wide:
            s2 = arm.get("seed2")
            row += f" {s2['line_exact']:.1%} / {s2['line_parse']:.1%} |" if s2 else " n/a |"
        lines.append(row)
    return lines + ["", comparison["finding"]]


MDLM_OBJECTIVE = (
    "Recipe `mdlm`: masked diffusion from scratch (MDLM/LLaDA bound: per-example mask ratio t ~ U(0.05, 1), "
    "cross-entropy on masked tokens weighted 1/t) mixed 40/60 with span infill in the server's shape: a hole cut "
    "in real code (a line, a line's tail, several lines, a tree-sitter statement/block, or a random span), a "
    "span budget longer than the truth, the rest of the budget filled with pad. Since run 4 a step is either all "
    "infill (rows of 128, 256 or 512 tokens) or all windows; before, rows of both kinds shared 512-token batches. "
    "Two curricula: windows of 64, then 128, then 512 tokens, and a highest mask ratio of 0.25, then 0.5, then 1 "
    "(with most of a short window masked, a small model stays at the unigram loss)."
)
AR_ADAPT_OBJECTIVE = (
    "Recipe `{name}`: left-to-right pre-training first ({ar:,} tokens of next-token prediction with causal "
    "attention, every position carrying loss), then adaptation to masked diffusion as DiffuLLaMA does it: logits "
    "read shifted by one (the output at i-1 predicts token i, so the left-to-right head keeps its meaning), "
    "attention opened from causal to bidirectional over {anneal:,} tokens (each future link open with a "
    "probability that grows from 0 to 1), then the MDLM bound (t ~ U(0.05, 1), weighted 1/t) on plain windows "
    "mixed 40/60 with span infill in the server's shape (pad-filled budgets). {holes}"
)


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.2g}"


def _soup_lines(comparison: dict) -> list[str]:
    """Checkpoints and soups of them, each against the same reference on the same 1000 held-out lines."""
    lines = [comparison["setup"], "",
             "| checkpoint | made of | core-minutes | tokens trained | hole CE line / lines / random (100) | "
             "1000 lines: hole CE | exact (only it / only ref.) | parse (only it / only ref.) | similarity |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in comparison["rows"]:
        ce, p = row["hole_ce"], row["paired"]
        ce_text = f"{ce[0]:.3f} / {ce[1]:.3f} / {ce[2]:.3f}" if ce else "not measured"
        lines.append(
            f"| {row['name']} | {row['made_of']} | {row['core_minutes']:.0f} | {row['tokens']:,} | "
            f"{ce_text} | {p['hole_ce']:.3f} | "
            f"{p['exact']:.1%} ({p['exact_only'][0]} / {p['exact_only'][1]}, p {_p(p['exact_p'])}) | "
            f"{p['parse']:.1%} ({p['parse_only'][0]} / {p['parse_only'][1]}, p {_p(p['parse_p'])}) | "
            f"{p['similarity']:.3f} |")
    return lines + ["", comparison["finding"]]


def _objective_lines(recipe_name: str, cfg: ModelConfig) -> list[str]:
    from model.recipe import RECIPES

    recipe = RECIPES.get(recipe_name)
    if recipe is None or not recipe.logit_shift:
        return [MDLM_OBJECTIVE]
    lo, hi = recipe.holes_per_row
    holes = (f"Infill rows hold {lo} to {hi} holes each, so more of a row's compute carries loss."
             if hi > 1 else "One hole per infill row.")
    if recipe.edit_share:
        holes += (f" {recipe.edit_share:.0%} of infill rows show edit history instead: one consistent change done "
                  "at one or two places, as `# edit: old -> new` lines above a hole at another place "
                  "(model/edit_examples.py), for next-edit suggestions. Runs 6-8 saw renames and changed string "
                  "literals only; later runs see all seven kinds of model/edit_changes.py (also a new call "
                  "argument, `await` before calls, a wrapped expression, a removed parameter's call sites and "
                  "an edit carried to sibling statements).")
    return [AR_ADAPT_OBJECTIVE.format(name=recipe.name, ar=recipe.ar_tokens, anneal=recipe.anneal_tokens, holes=holes)]


def write_card(folder: Path) -> Path:
    """Regenerate MODEL_CARD.md from the files training and evaluation leave in `folder`."""
    cfg = ModelConfig.from_file(folder / "config.json")
    from model.network import Denoiser

    params = Denoiser(cfg).num_parameters()
    runs = read_runs(folder)
    state = read_json(folder / "train_state.json") or {}
    text = [
        "# instant-edit embedded model",
        "",
        "A small masked diffusion language model for code infill, trained by `instant-edit train`"
        + (" (logits read shifted by one)." if cfg.logit_shift else "."),
        "",
        "## Architecture",
        f"Qwen2-style transformer with bidirectional attention: {cfg.num_hidden_layers} layers, hidden "
        f"{cfg.hidden_size}, {cfg.num_attention_heads} query heads / {cfg.num_key_value_heads} key-value heads, "
        f"SwiGLU {cfg.intermediate_size}, RMSNorm, rotary embeddings (theta {cfg.rope_theta:g}), q/k/v biases, "
        f"tied embeddings; byte-level BPE vocabulary of {cfg.vocab_size}. **{params:,} parameters.**",
        "",
        "## Objective",
        *_objective_lines((read_json(folder / "train_config.json") or {}).get("recipe", "mdlm"), cfg),
        "",
        "## Training",
        f"Tokens seen: {state.get('tokens_seen', 0):,} in {state.get('step', 0):,} steps "
        f"({state.get('elapsed_s', 0) / 60:.1f} min of training).",
        "",
        "| run | hardware | precision | recipe | wall time (min) | tokens | final loss | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(runs, 1):
        text.append(
            f"| {i} | {run['hardware']} | {run.get('precision', 'float32')} | {run.get('recipe', 'mdlm')} | "
            f"{run['wall_s'] / 60:.1f} | "
            f"{run['tokens']:,} | {_loss(run.get('final_loss'))} | {run.get('note', '')} |"
        )
    comparison = read_json(folder / "recipe_comparison.json")
    if comparison:
        from model.comparison import table_lines

        text += ["", "## Recipe comparison", *table_lines(comparison)]
    for name, title in COMPARISONS:
        arms = read_json(folder / name)
        if arms:
            text += ["", f"## {title}", *_arm_lines(arms)]
    soups = read_json(folder / AVERAGING[0])
    if soups:
        text += ["", f"## {AVERAGING[1]}", *_soup_lines(soups)]
    text += ["", "## Corpus", *_corpus_lines(read_json(folder / "corpus_summary.json"))]
    text += [
        "",
        "Held-out split: files whose SHA-256 mod 100 < 2, never trained on. Benchmark data sets are excluded "
        "by path. Every file is listed in `heldout.jsonl` (held-out) of this folder's training run.",
        "",
        "## Evaluation (held-out Python files, `instant-edit eval`)",
        *_eval_lines(read_json(folder / "eval.json")),
        "",
        "\"Still parses\": tree-sitter finds no error and, from session 22 on, Python's own parser accepts the file "
        "(tree-sitter alone passes a lone `try:` and other empty blocks, so earlier runs' notes count more).",
        "",
    ]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(text))
    return path
