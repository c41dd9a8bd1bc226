"""Loss positions per training step for each recipe: how much of a step's compute carries loss.

    python3 scripts/loss-positions.py [STEPS]

Builds STEPS infill batches and STEPS window batches per recipe from the standard library's training files
(the embedded tokenizer, the curricula finished) and prints the masked positions per step against the tokens.
"""

import random
import sys
import sysconfig
from pathlib import Path

from model.corpus import build_corpus
from model.engine import DEFAULT_CHECKPOINT
from model.recipe import RECIPES
from model.tokenizer import CodeTokenizer
from model.train import FileSampler, TrainConfig, make_batch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
tok = CodeTokenizer.load(DEFAULT_CHECKPOINT)
files = build_corpus([Path(sysconfig.get_paths()["stdlib"])], 10_000_000).train
print("| recipe | step kind | loss positions / step | tokens / step | share |")
print("|---|---|---|---|---|")
for recipe in RECIPES:
    for share, label in ((1.0, "infill"), (0.0, "window")):
        cfg = TrainConfig(out=Path("unused"), recipe=recipe, infill_share=share)
        rng = random.Random(0)
        sampler = FileSampler(files, rng)
        loss = tokens = 0
        for _ in range(steps):
            batch = make_batch(tok, sampler, cfg, rng, tokens_seen=10_000_000)
            loss += len(batch["targets"])
            tokens += int(batch["key_mask"].sum())
        print(f"| {recipe} | {label} | {loss / steps:.0f} | {tokens / steps:.0f} | {loss / tokens:.3f} |")
