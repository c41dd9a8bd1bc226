"""`instant-edit train`, `average` and `eval`: the embedded model's recipe, soups of runs, held-out evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lsp_server.settings import Settings


def run_train(args: argparse.Namespace) -> int:
    from model.card import write_card
    from model.train import TrainConfig, last_committed_run, seed_run_folder, stored_recipe, train

    out = Path(args.out)
    resume_from = None
    if args.resume is not None:
        resume_from = Path(args.resume) if args.resume else last_committed_run()
    try:
        seed_run_folder(TrainConfig(out=out), resume_from, Path(args.tokenizer) if args.tokenizer else None)
    except FileNotFoundError as e:
        print(f"instant-edit train: {e}", file=sys.stderr)
        return 2
    if args.grow_layers:
        from model.grow import grow_run

        try:
            if grow_run(out, args.grow_layers):
                print(f"instant-edit train: grew {out}'s network to {args.grow_layers} layers", file=sys.stderr)
        except (FileNotFoundError, ValueError) as e:
            print(f"instant-edit train: {e}", file=sys.stderr)
            return 2
    cfg = TrainConfig(
        out=Path(args.out),
        roots=[Path(r) for r in args.roots],
        max_bytes_per_root=args.max_bytes_per_root,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        decay_share=args.decay_share,
        time_budget_s=args.minutes * 60,
        token_budget=args.tokens,
        device=args.device,
        resume=not args.no_resume,
        save_every_s=args.save_every_minutes * 60,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        vocab_size=args.vocab_size,
        seed=args.seed,
        recipe=args.recipe or stored_recipe(out) or "mdlm",
        ar_tokens=args.ar_tokens,
        anneal_tokens=args.anneal_tokens,
        compile=args.compile,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]train"), BarColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("train", total=cfg.time_budget_s, info="building corpus and tokenizer")

        def on_log(state, m):
            progress.update(
                task,
                completed=state.elapsed_s,
                info=f"step {m['step']} loss {m['loss']:.3f} {m['tokens_per_s']:.0f} tok/s lr {m['lr']:.2e}",
            )

        state = train(cfg, on_log=on_log)
    summary = json.loads((cfg.out / "corpus_summary.json").read_text())
    console.print(f"corpus: {json.dumps(summary['roots'])}")
    console.print(f"trained {state.step} steps, {state.tokens_seen:,} tokens; checkpoint in {cfg.out}")
    write_card(cfg.out)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import model
    from model.card import write_card
    from model.evaluate import EvalConfig, evaluate

    clash = _against_clash(args)
    if clash:
        print(f"instant-edit eval: --against compares held-out holes only; it does not take {clash}", file=sys.stderr)
        return 2
    engine = model.load(args.model, device=args.device)
    if getattr(args, "next_edit", False):  # next-edit suggestions on scenarios cut from held-out files
        from lsp_server.cli.eval_next_edits import run, server_latency

        report = run(engine, args.cases, args.seed, args.margin)
        if getattr(args, "lsp", 0):
            report["server"] = server_latency(args.model, args.cases, args.seed, args.lsp)
        print(json.dumps(report))
        return 0
    if getattr(args, "gates", None) is not None:  # the held-out gates instead: syntax guard, floors, repair
        from lsp_server.cli.eval_gates import PARTS, run_cli

        return run_cli(engine, args.cases, args.seed, tuple(args.gates) or PARTS)
    cfg = EvalConfig(kinds=tuple(args.kinds), cases_per_kind=args.cases, seed=args.seed, samplers=tuple(args.samplers),
                     likelihood=args.likelihood)
    console = Console(stderr=True)
    if getattr(args, "against", None):  # two checkpoints, hole by hole
        return _run_paired(engine, model.load(args.against, device=args.device), cfg, args, console)
    report = _with_progress(console, len(cfg.kinds) * len(cfg.samplers) * cfg.cases_per_kind,
                            lambda progress: evaluate(engine, cfg, progress))
    table = Table("span kind", "sampler", "cases", "exact match", "edit sim.", "still parses", "NFE/token")
    for kind, by_sampler in report.items():
        if "likelihood" in by_sampler:
            m = by_sampler["likelihood"]
            console.print(f"{kind}: true span in one pass: cross-entropy {m['hole_ce']:.3f} nats/token, "
                          f"token accuracy {m['token_accuracy']:.1%} ({m['cases']} cases)")
        for name, m in by_sampler.items():
            if name == "likelihood":
                continue
            table.add_row(kind, name, str(m["cases"]), f"{m['exact_match']:.1%}", f"{m['edit_similarity']:.3f}",
                          f"{m['parse_rate']:.1%}", f"{m['nfe_per_token']:.3f}")
    console.print(table)
    if args.write_card:
        folder = Path(args.model) if args.model else model.engine.DEFAULT_CHECKPOINT
        (folder / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {write_card(folder)}")
    print(json.dumps(report))
    return 0


def _against_clash(args: argparse.Namespace) -> str:
    """The option that `--against` cannot go with, if any: the gates, next edits and the card measure one model."""
    if not getattr(args, "against", None):
        return ""
    for flag, on in (("--gates", getattr(args, "gates", None) is not None),
                     ("--next-edit", getattr(args, "next_edit", False)), ("--write-card", args.write_card)):
        if on:
            return flag
    return ""


def _with_progress(console: Console, total: int, run):
    """`run(on_progress)` under the eval's progress bar: one step per sampled hole, labelled by kind and sampler."""
    with Progress(TextColumn("[bold]eval"), BarColumn(), TextColumn("{task.description}"), console=console) as prog:
        task = prog.add_task("", total=total)
        return run(lambda kind, name, i: prog.update(task, advance=1, description=f"{kind} {name}"))


def _run_paired(engine, other, cfg, args: argparse.Namespace, console: Console) -> int:
    """`eval --against DIR`: both models on the same holes; the splits on stderr, the report as JSON on stdout."""
    from model.paired import compare, render

    report = _with_progress(console, 2 * len(cfg.kinds) * len(cfg.samplers) * cfg.cases_per_kind,
                            lambda progress: compare(engine, other, cfg, progress))
    for line in render(report, args.model or "the embedded model", args.against):
        print(line, file=sys.stderr)  # plain: the console would wrap the long rows
    print(json.dumps(report))
    return 0


def run_average(args: argparse.Namespace) -> int:
    from model.average import average_runs
    from model.card import write_card
    from model.checkpoint import CheckpointError

    try:
        out = average_runs([Path(d) for d in args.runs], Path(args.out))
    except (CheckpointError, ValueError) as e:
        print(f"instant-edit average: {e}", file=sys.stderr)
        return 2
    write_card(out)
    print(f"averaged {len(args.runs)} checkpoints into {out}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from model.evaluate import DEFAULT_SAMPLERS, SAMPLERS
    from model.recipe import RECIPES

    p = sub.add_parser("train", help="build the corpus and tokenizer from local sources and train a model")
    p.add_argument("--out", default="runs/embedded", help="checkpoint folder (resumed if it holds a run)")
    p.add_argument("--roots", nargs="*", default=[], help="source folders (default: this machine's own)")
    p.add_argument("--max-bytes-per-root", type=int, default=30_000_000)
    p.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    p.add_argument("--tokens", type=int, default=0, help="token budget (0: none)")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument(
        "--lr-schedule", choices=["cosine", "wsd"], default="cosine",
        help="cosine: decay over the whole run; wsd: hold the peak, decay over the last --decay-share, keep the "
        "weights where the decay began (stable.safetensors) and go on from them in the next wsd run",
    )
    p.add_argument("--decay-share", type=float, default=0.2, help="wsd: the share of the run that decays")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument(
        "--grow-layers", type=int, default=0, metavar="N",
        help="deepen the run's network to N layers before training, its answers unchanged (model/grow.py)",
    )
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="DIR",
                   help="start an empty --out from a committed run and go on (default: model/weights/candidate when "
                        "committed, else the embedded model)")
    p.add_argument("--tokenizer", default=None, metavar="DIR", help="take the tokenizer of this checkpoint")
    p.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                   help="training recipe (default: the run's own, else mdlm); see model/recipe.py")
    p.add_argument("--ar-tokens", type=int, default=None, help="left-to-right pre-training tokens (recipe's own)")
    p.add_argument("--anneal-tokens", type=int, default=None, help="attention annealing tokens (recipe's own)")
    p.add_argument("--save-every-minutes", type=float, default=5.0)
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network for training steps (1.32x the steps per second on one bf16 CPU "
                        "thread, 1.12x in float32; the first step compiles for up to two minutes)")
    p.set_defaults(func=run_train)

    a = sub.add_parser("average", help="average the weights of runs from one start into a new checkpoint (a soup)")
    a.add_argument("runs", nargs="+", metavar="DIR", help="two or more checkpoint folders of the same network")
    a.add_argument("--out", required=True, help="new folder for the averaged checkpoint (model/average.py)")
    a.set_defaults(func=run_average)

    e = sub.add_parser("eval", help="evaluate a checkpoint on held-out files")
    e.add_argument("--model", default=None, help="checkpoint folder (default: the embedded model)")
    e.add_argument("--device", default="auto")
    e.add_argument("--kinds", nargs="+", default=["line", "lines", "random"])
    e.add_argument("--cases", type=int, default=100, help="holes per span kind")
    e.add_argument("--samplers", nargs="+", default=list(DEFAULT_SAMPLERS), choices=list(SAMPLERS))
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--write-card", action="store_true", help="save eval.json and refresh MODEL_CARD.md")
    e.add_argument("--gates", nargs="*", choices=["guard", "repair"], default=None, metavar="PART",
                   help="measure the gates instead (lsp_server/cli/eval_gates.py): --cases requests per kind; "
                   "PART: guard (syntax guard and confidence floors) and/or repair (default: both)")
    e.add_argument("--next-edit", action="store_true",
                   help="next-edit suggestions instead (lsp_server/cli/eval_next_edits.py): --cases scenarios per kind")
    e.add_argument("--margin", type=float, default=Settings.next_edit_margin,
                   help="--next-edit: the server's nextEditMargin")
    e.add_argument("--lsp", type=int, default=0, metavar="N",
                   help="--next-edit: also time N scenarios' nextEdits requests through the real server")
    e.add_argument("--against", default=None, metavar="DIR",
                   help="also run this checkpoint on the same holes and compare them hole by hole: the holes only "
                   "one model gets right (or parsing) and a sign test on them (model/paired.py)")
    e.add_argument("--likelihood", action="store_true",
                   help="also score the true span in one pass: cross-entropy and token accuracy per kind")
    e.set_defaults(func=run_eval)
