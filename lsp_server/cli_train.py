"""`instant-edit train` and `instant-edit eval`: the embedded model's recipe and its held-out evaluation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


def run_train(args: argparse.Namespace) -> int:
    from model.card import write_card
    from model.train import TrainConfig, train

    cfg = TrainConfig(
        out=Path(args.out),
        roots=[Path(r) for r in args.roots],
        max_bytes_per_root=args.max_bytes_per_root,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lr=args.lr,
        time_budget_s=args.minutes * 60,
        token_budget=args.tokens,
        device=args.device,
        resume=not args.no_resume,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        vocab_size=args.vocab_size,
        seed=args.seed,
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

    engine = model.load(args.model, device=args.device)
    cfg = EvalConfig(kinds=tuple(args.kinds), cases_per_kind=args.cases, seed=args.seed, samplers=tuple(args.samplers))
    console = Console(stderr=True)
    total = len(cfg.kinds) * len(cfg.samplers) * cfg.cases_per_kind
    with Progress(TextColumn("[bold]eval"), BarColumn(), TextColumn("{task.description}"), console=console) as prog:
        task = prog.add_task("", total=total)
        report = evaluate(engine, cfg, lambda kind, name, i: prog.update(task, advance=1, description=f"{kind} {name}"))
    table = Table("span kind", "sampler", "cases", "exact match", "edit sim.", "still parses", "NFE/token")
    for kind, by_sampler in report.items():
        for name, m in by_sampler.items():
            table.add_row(kind, name, str(m["cases"]), f"{m['exact_match']:.1%}", f"{m['edit_similarity']:.3f}",
                          f"{m['parse_rate']:.1%}", f"{m['nfe_per_token']:.3f}")
    console.print(table)
    if args.write_card:
        folder = Path(args.model) if args.model else model.engine.DEFAULT_CHECKPOINT
        (folder / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {write_card(folder)}")
    print(json.dumps(report))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from model.evaluate import DEFAULT_SAMPLERS, SAMPLERS

    p = sub.add_parser("train", help="build the corpus and tokenizer from local sources and train a model")
    p.add_argument("--out", default="runs/embedded", help="checkpoint folder (resumed if it holds a run)")
    p.add_argument("--roots", nargs="*", default=[], help="source folders (default: this machine's own)")
    p.add_argument("--max-bytes-per-root", type=int, default=30_000_000)
    p.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    p.add_argument("--tokens", type=int, default=0, help="token budget (0: none)")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    p.set_defaults(func=run_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on held-out files")
    e.add_argument("--model", default=None, help="checkpoint folder (default: the embedded model)")
    e.add_argument("--device", default="auto")
    e.add_argument("--kinds", nargs="+", default=["line", "lines", "random"])
    e.add_argument("--cases", type=int, default=100, help="holes per span kind")
    e.add_argument("--samplers", nargs="+", default=list(DEFAULT_SAMPLERS), choices=list(SAMPLERS))
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--write-card", action="store_true", help="save eval.json and refresh MODEL_CARD.md")
    e.set_defaults(func=run_eval)
