"""How much a checkpoint has memorised: hole cross-entropy on files it trained on against held-out files.

    python3 scripts/train-gap.py [--model DIR] [--manifest FILE] [--cases N] [--kinds line random]

Both sides are standard-library Python files: the ones a training manifest (`corpus_manifest.jsonl`, written
by `instant-edit train` into its output folder) says the run trained on, and the held-out ones every
`instant-edit eval` uses, so the two differ only in whether the model has seen them. The holes are picked the same way as `instant-edit eval`'s
and scored the same way (one pass, the whole budget masked). A gap that grows from one session to the next says
the corpus is being repeated too often; one that stays small says more epochs of the same text still pay.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from model.corpus import SourceFile, read_source, stdlib_root
from model.engine import load
from model.evaluate import MAX_TRUTH_TOKENS, likelihood
from model.heldout import held_out_files, make_cases


def trained_files(manifest: Path) -> list[SourceFile]:
    """The standard library's Python files the run trained on, unchanged on disk since the manifest was written."""
    root = str(stdlib_root())
    files = []
    for line in manifest.read_text().splitlines():
        row = json.loads(line)
        if row["split"] != "train" or row["language"] != "python" or not row["path"].startswith(root):
            continue
        if "site-packages" in row["path"]:
            continue
        text = read_source(Path(row["path"]))
        if text is not None and hashlib.sha256(text.encode()).hexdigest() == row["sha256"]:
            files.append(SourceFile(row["path"], row["language"], text, row["sha256"]))
    return sorted(files, key=lambda f: f.digest)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="model/weights/candidate")
    p.add_argument("--manifest", default=None,
                   help="a run's corpus_manifest.jsonl (default: the one in the model folder)")
    p.add_argument("--cases", type=int, default=500)
    p.add_argument("--kinds", nargs="+", default=["line", "random"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    manifest = Path(args.manifest or Path(args.model) / "corpus_manifest.jsonl")
    if not manifest.exists():
        print(f"train-gap: no training manifest at {manifest} (pass --manifest)", file=sys.stderr)
        return 2
    engine = load(args.model, device="cpu", dtype=os.environ.get("INSTANT_EDIT_DTYPE", "float32"))
    splits = {"train": trained_files(manifest), "held_out": held_out_files()}
    report = {"model": args.model, "files": {s: len(f) for s, f in splits.items()}}
    for kind in args.kinds:
        for split, files in splits.items():
            cases = make_cases(files, kind, args.cases, args.seed, MAX_TRUTH_TOKENS.get(kind, 128), engine.tok)
            report[f"{kind}/{split}"] = likelihood(engine, cases)
        report[f"{kind}/gap"] = round(report[f"{kind}/held_out"]["hole_ce"] - report[f"{kind}/train"]["hole_ce"], 4)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
