"""The end of a training session: wait for its runs, average them with their start, measure the soup, and record
it as the candidate when it is the best yet.

    python3 scripts/finish-session.py --session 38 runs/s38-4 runs/s38-5
    python3 scripts/finish-session.py --session 38 --no-wait --dry-run runs/s38-4 runs/s38-5   # measure only
    python3 scripts/finish-session.py --session 38 --grow 6 --tag g6 runs/s38-g6   # runs trained with --grow-layers 6
    python3 scripts/finish-session.py --session 40 --from runs/s38-g6-soup runs/s40-g6 runs/s40-g7   # another start

Every run must have resumed from FROM (default: START, model/weights/candidate), grown to --grow layers if it was
trained with --grow-layers (the soup then takes FROM grown the same way: model/grow.py, answers unchanged). FROM
other than START is for runs that went on from a checkpoint that was not kept, such as a larger network's soup:
the soup is still measured against, and recorded into, START. Measurements, all float32 on one thread:
  1. the pair eval: 1000 held-out lines (seed 2) against REF, session 28's default (commit 7f5e335, hole CE 5.006);
     it is the number a soup must lower to be kept;
  2. when it is lower than the candidate's: 100 holes per kind (line, lines, random) for eval.json, and Repair at
     70 typos, the two at once, one per core.
Recording (without --dry-run): the soup's network, state and config go into START, with eval.json, a runs.jsonl
line per run and one for the soup, a row in averaging_comparison.json, and the card rewritten. What is not kept
is still printed with its figures, for the issue note.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.card import read_runs, write_card  # noqa: E402
from model.grow import grow_run  # noqa: E402

REF_COMMIT = "7f5e335"  # session 28's default: the fixed reference every pair eval since session 29 is against
PAIR = ["--kinds", "line", "--cases", "1000", "--samplers", "fast", "--seed", "2", "--likelihood"]
S0 = ["--kinds", "line", "lines", "random", "--cases", "100", "--samplers", "fast", "--likelihood"]
REPAIR = ["--gates", "repair", "--cases", "70"]
REPAIR_MARGIN = 10.0  # the shipped repair margin: at it no correct line is changed


def wait_for(runs: list[Path]) -> None:
    """Block while any run's `instant-edit train --out RUN` process is alive."""
    while any(subprocess.run(["pgrep", "-f", f"train --out {r} "], capture_output=True).returncode == 0 for r in runs):
        time.sleep(20)


def reference(folder: Path) -> Path:
    """Session 28's default, extracted from git once."""
    if not (folder / "model.safetensors").exists():
        folder.mkdir(parents=True, exist_ok=True)
        names = subprocess.run(["git", "ls-tree", "--name-only", REF_COMMIT, "model/weights/default/"],
                               capture_output=True, text=True, check=True).stdout.split()
        for name in names:
            blob = subprocess.run(["git", "show", f"{REF_COMMIT}:{name}"], capture_output=True, check=True).stdout
            (folder / Path(name).name).write_bytes(blob)
    return folder


def evaluate(model: Path, args: list[str], log: Path) -> subprocess.Popen:
    """Start one float32 single-thread `instant-edit eval`, niced below the training, output to `log`."""
    env = dict(os.environ, INSTANT_EDIT_DTYPE="float32", OMP_NUM_THREADS="1")
    return subprocess.Popen(["nice", "-n", "10", "instant-edit", "eval", "--model", str(model), *args],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)


def last_report(log: Path) -> dict | None:
    """The JSON report an eval log ends with; None when there is none."""
    lines = [x for x in log.read_text().splitlines() if x.startswith("{")] if log.exists() else []
    return json.loads(lines[-1]) if lines else None


def report(proc: subprocess.Popen, log: Path) -> dict:
    """Wait for an eval and return the JSON report it prints last."""
    if proc.wait() != 0 or (result := last_report(log)) is None:
        raise SystemExit(f"eval failed, see {log}")
    return result


def paired(pair_report: dict) -> dict:
    """The pair eval's figures in the averaging_comparison row format (a: the model measured, b: REF)."""
    line = pair_report["line"]
    fast = line["fast"]
    return {"hole_ce": line["likelihood"]["a"]["hole_ce"], "exact": fast["a"]["exact_match"],
            "exact_only": [fast["exact"]["only_a"], fast["exact"]["only_b"]], "exact_p": fast["exact"]["p"],
            "parse": fast["a"]["parse_rate"], "parse_only": [fast["parses"]["only_a"], fast["parses"]["only_b"]],
            "parse_p": fast["parses"]["p"], "similarity": fast["a"]["edit_similarity"]}


def pair_text(p: dict) -> str:
    return (f"CE {p['hole_ce']:.3f}, exact {p['exact']:.1%} ({p['exact_only'][0]} / {p['exact_only'][1]}), "
            f"parse {p['parse']:.1%} ({p['parse_only'][0]} / {p['parse_only'][1]}), similarity {p['similarity']:.3f}")


def repair_text(repair_report: dict) -> str:
    rep = repair_report["repair"]
    row = next(r for r in rep["by_margin"] if r["margin"] == REPAIR_MARGIN)
    return (f"{round(row['typo_fixed'] * rep['typos'])} of {rep['typos']} typos fixed at margin {REPAIR_MARGIN:g}, "
            f"{row['correct_changed']:.0%} of {rep['correct']} correct lines changed")


def candidate_row(comparison: dict) -> dict:
    """The averaging_comparison row of the checkpoint committed as the candidate now."""
    return next(r for r in reversed(comparison["rows"]) if "the candidate" in r["name"])


def run_note(session: int, run: Path, origin: str, p: dict | None, grow: int) -> dict:
    """The run's own runs.jsonl record, with a note that says where it started and how it measured."""
    record = read_runs(run)[-1]
    cfg = json.loads((run / "train_config.json").read_text())
    grown = f", grown to {grow} layers (--grow-layers {grow}, the new block silent at first)," if grow else ""
    corpus = (f", corpus from {', '.join(Path(r).name for r in cfg['roots'])} at {cfg['max_bytes_per_root'] / 1e6:g} MB"
              " a root" if cfg.get("roots") else "")
    record["note"] = (
        f"session {session}: resumed from {origin}{grown} on one core for "
        f"{record['wall_s'] / 60:.0f} min ({cfg['lr_schedule']}, peak {cfg['lr']:g}, seed {cfg['seed']}), "
        f"{record['precision']}, {record['tokens'] / 1e6:.1f}M tokens{corpus}"
        + (f"; float32 eval, 1000 lines (seed 2) against session 28's default: {pair_text(p)}" if p else ""))
    return record


def origin_text(args, tokens: float) -> str:
    """What the runs resumed from, for the notes."""
    if args.origin == args.start:
        return f"the candidate ({tokens / 1e6:.1f}M tokens)"
    return f"{args.origin} ({tokens / 1e6:.1f}M tokens, not the candidate)"


def record(args, soup: Path, runs: list[Path], pairs: dict, s0: dict, repair: dict, start_tokens: float) -> None:
    """Write the kept soup into the candidate folder with every record the card reads."""
    cand = args.start
    comparison = json.loads((cand / "averaging_comparison.json").read_text())
    before = candidate_row(comparison)
    for f in ("model.safetensors", "config.json", "train_state.json"):
        shutil.copy(soup / f, cand / f)
    cfg = json.loads((runs[0] / "train_config.json").read_text())
    cfg["out"] = str(cand)
    (cand / "train_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    shutil.copy(runs[0] / "train_log.jsonl", cand / "train_log.jsonl")
    (cand / "eval.json").write_text(json.dumps(s0, indent=2) + "\n")

    first = len(read_runs(cand)) + 1
    numbers = f"runs {first}-{first + len(runs) - 1}" if len(runs) > 1 else f"run {first}"
    ce = [round(s0[k]["likelihood"]["hole_ce"], 4) for k in ("line", "lines", "random")]
    total = json.loads((soup / "train_state.json").read_text()).get("tokens_seen", 0)
    start = ("their" if len(runs) > 1 else "its") + " start"
    if args.grow:
        start += f" grown to {args.grow} layers (model/grow.py, answers unchanged)"
    soup_record = {
        "hardware": read_runs(runs[0])[-1]["hardware"], "precision": "float32", "recipe": "average", "wall_s": 0.0,
        "tokens": 0, "final_loss": None,
        "note": (f"session {args.session}: the soup of {numbers} and {start}, each an equal share (instant-edit "
                 f"average), {total / 1e6:.1f}M tokens counted; float32 eval: hole CE {ce[0]:.3f} / {ce[1]:.3f} / "
                 f"{ce[2]:.3f} (line / several lines / random, 100 each), line exact "
                 f"{s0['line']['fast']['exact_match']:.0%}, NFE/token {s0['line']['fast']['nfe_per_token']:.2f}; "
                 f"1000 lines (seed 2) against session 28's default: {pair_text(pairs['soup'])} (the previous "
                 f"candidate {before['paired']['hole_ce']:.3f}); Repair: {repair_text(repair)}; committed as the candidate")}
    origin = origin_text(args, start_tokens)
    with open(cand / "runs.jsonl", "a") as fh:
        for run in runs:
            fh.write(json.dumps(run_note(args.session, run, origin, pairs.get(str(run)), args.grow)) + "\n")
        fh.write(json.dumps(soup_record) + "\n")

    minutes = sum(read_runs(r)[-1]["wall_s"] for r in runs) / 60
    tokens = sum(read_runs(r)[-1]["tokens"] for r in runs)
    before["name"] = before["name"].replace("**", "").replace("; the candidate)", ")")
    comparison["rows"].append({
        "name": f"**soup of {numbers} and {start.split(' (')[0]} (session {args.session}; the candidate)**",
        "made_of": f"{numbers} + " + ("the previous candidate" if args.origin == args.start else str(args.origin))
        + (f" grown to {args.grow} layers" if args.grow else ""),
        "core_minutes": round(before["core_minutes"] + minutes),
        "tokens": before["tokens"] + tokens, "hole_ce": ce, "paired": pairs["soup"]})
    comparison["finding"] += (
        f" Session {args.session}: {len(runs)} {'run' if len(runs) == 1 else 'runs'} of {minutes / len(runs):.0f}"
        f" minutes on average from {origin}, "
        f"{tokens / 1e6:.1f}M tokens in all; their soup with the start {pairs['soup']['hole_ce']:.4f} against the "
        f"previous candidate's {before['paired']['hole_ce']:.4f}: the candidate.")
    (cand / "averaging_comparison.json").write_text(json.dumps(comparison, indent=1) + "\n")
    write_card(cand)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="the session's run folders, each resumed from FROM")
    ap.add_argument("--session", type=int, required=True, help="the session number, for the notes")
    ap.add_argument("--start", type=Path, default=Path("model/weights/candidate"),
                    help="the candidate: the soup must beat it and is recorded into it")
    ap.add_argument("--from", dest="origin", type=Path, default=None,
                    help="the checkpoint the runs resumed from (default: START)")
    ap.add_argument("--work", type=Path, default=Path("runs"), help="where the soup, REF and the eval logs go")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for the runs' training processes")
    ap.add_argument("--each", action="store_true", help="also measure each run alone (5 minutes per run and core)")
    ap.add_argument("--dry-run", action="store_true", help="measure and print; record nothing")
    ap.add_argument("--grow", type=int, default=0, help="the runs were trained with --grow-layers N: grow START too")
    ap.add_argument("--tag", default="", help="names this arm's soup and logs apart from another arm's")
    ap.add_argument("--reuse", action="store_true", help="keep a soup and the evals made of it before (after --dry-run)")
    args = ap.parse_args()
    args.origin = args.origin or args.start

    if not args.no_wait:
        wait_for(args.runs)
    start_tokens = json.loads((args.origin / "train_state.json").read_text()).get("tokens_seen", 0)
    name = f"s{args.session}" + (f"-{args.tag}" if args.tag else "")
    soup = args.work / f"{name}-soup"
    # Logs are reused only with the soup they measured.
    reused = args.reuse and (soup / "model.safetensors").exists()
    if not reused:
        if soup.exists():
            shutil.rmtree(soup)
        start = args.origin
        if args.grow:
            start = args.work / f"{name}-start"
            if start.exists():
                shutil.rmtree(start)
            shutil.copytree(args.origin, start)
            grow_run(start, args.grow)
        subprocess.run(["instant-edit", "average", *map(str, args.runs), str(start), "--out", str(soup)], check=True)
    ref = reference(args.work / "ref")
    targets = {"soup": soup, **({str(r): r for r in args.runs} if args.each else {})}
    logs = {n: args.work / f"{name}-pair-{Path(n).name}.log" for n in targets}
    pairs = {n: paired(last_report(logs[n])) for n in targets if reused and last_report(logs[n])}
    todo = [n for n in targets if n not in pairs]
    for i in range(0, len(todo), 2):  # two evals at a time, one per core
        procs = {n: evaluate(targets[n], ["--against", str(ref), *PAIR], logs[n]) for n in todo[i:i + 2]}
        pairs.update({n: paired(report(proc, logs[n])) for n, proc in procs.items()})
    for label, p in pairs.items():
        print(f"{label}: {pair_text(p)}")

    best = candidate_row(json.loads((args.start / "averaging_comparison.json").read_text()))["paired"]["hole_ce"]
    if pairs["soup"]["hole_ce"] >= best:
        print(f"not kept: the soup's hole CE {pairs['soup']['hole_ce']:.4f} is not below the candidate's {best:.4f}")
        return
    s0_log, repair_log = args.work / f"{name}-s0.log", args.work / f"{name}-repair.log"
    if reused and last_report(s0_log) and last_report(repair_log):
        s0, repair = last_report(s0_log), last_report(repair_log)
    else:
        s0_proc, repair_proc = evaluate(soup, S0, s0_log), evaluate(soup, REPAIR, repair_log)
        s0, repair = report(s0_proc, s0_log), report(repair_proc, repair_log)
    ce = " / ".join(f"{s0[k]['likelihood']['hole_ce']:.3f}" for k in ("line", "lines", "random"))
    fast = s0["line"]["fast"]
    print(f"kept: pair CE {pairs['soup']['hole_ce']:.4f} below {best:.4f}; hole CE {ce}, line exact "
          f"{fast['exact_match']:.0%}, NFE/token {fast['nfe_per_token']:.2f}; Repair: {repair_text(repair)}")
    if args.dry_run:
        return
    record(args, soup, args.runs, pairs, s0, repair, start_tokens)
    print(f"recorded in {args.start}")


if __name__ == "__main__":
    main()
