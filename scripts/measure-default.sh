#!/usr/bin/env bash
# Every measurement the project makes when a checkpoint is promoted to be the embedded default model
# (model/weights/default/), the way session 32 promoted session 31's soup by hand (commit dd6be69): the README's
# figures for the default, its demos, the gates, next edits, int8, and the typing and single-line benches.
#
#   bash scripts/measure-default.sh NEW OLD OUTDIR
#
# NEW is the checkpoint folder to measure (passed as --model NEW everywhere), OLD the current default's folder
# (a copy of it, for the hole-by-hole --against comparisons), OUTDIR a new folder that receives one log file per
# measurement, named after what it measures, and status.txt (exit status and seconds of each). The measurements
# run one after another under `nice -n 10`, in float32 on one torch thread as the README's figures were measured;
# one that fails is recorded and the rest still run. At full size it takes hours on one core: start it and come
# back to the figures.
#
# QUICK=1 shrinks every case count to 3 (and the typing bench to 40 characters and 3 accepts) for a smoke test.
# What QUICK=1 cannot shrink: the Repair eval's pass over the 34 whole held-out files.
#
# Not measured here: scripts/line_lengths.py (the README quotes it for session 28's default only) and
# `bench --lsp --requests 60 --warmup 5` (server overhead, quoted for session 27's default).

set -u

if [ $# -ne 3 ]; then
    echo "usage: bash scripts/measure-default.sh NEW OLD OUTDIR   (QUICK=1 for a smoke test)" >&2
    exit 2
fi
if [ ! -f "$1/model.safetensors" ] || [ ! -f "$2/model.safetensors" ]; then
    echo "measure-default: NEW ($1) and OLD ($2) must be checkpoint folders with model.safetensors" >&2
    exit 2
fi
if [ -e "$3" ] && [ -n "$(ls -A "$3")" ]; then
    echo "measure-default: $3 exists and is not empty; give a new folder" >&2
    exit 2
fi
mkdir -p "$3"
NEW=$(cd "$1" && pwd)
OLD=$(cd "$2" && pwd)
OUT=$(cd "$3" && pwd)
cd "$(dirname "$0")/.."  # the repository root: the demos and snippets read examples/ and tests/

# float32, one torch thread, as the README's figures were measured. `instant-edit bench` ignores
# INSTANT_EDIT_DTYPE (its --dtype, `auto` by default, overrides it), so every bench below passes --dtype.
export INSTANT_EDIT_DTYPE=float32
export OMP_NUM_THREADS=1

if [ "${QUICK:-0}" = 1 ]; then
    C40=3; C70=3; C100=3; C300=3; C1000=3; LSP35=3; SPANS40=3
    TYPING_SIZE="--typing-chars 40 --accept-cases 3"
else
    C40=40; C70=70; C100=100; C300=300; C1000=1000; LSP35=35; SPANS40=40
    TYPING_SIZE=""
fi

# measure NAME COMMAND...: run COMMAND under nice, its output in OUT/NAME.txt (the command on the first line),
# its exit status and seconds in OUT/status.txt.
measure() {
    local name=$1
    shift
    local log="$OUT/$name.txt"
    echo "$ $*" > "$log"
    echo "[$(date +%H:%M:%S)] $name"
    local start=$SECONDS
    nice -n 10 "$@" >> "$log" 2>&1
    local rc=$?
    printf '%-26s exit %-3s %6ss\n' "$name" "$rc" "$((SECONDS - start))" >> "$OUT/status.txt"
    if [ "$rc" -ne 0 ]; then
        echo "    failed (exit $rc): see $log"
    fi
}

echo "measuring $NEW (old default $OLD) into $OUT; QUICK=${QUICK:-0}"
echo "NEW $NEW" > "$OUT/setup.txt"
echo "OLD $OLD" >> "$OUT/setup.txt"
echo "QUICK=${QUICK:-0} INSTANT_EDIT_DTYPE=$INSTANT_EDIT_DTYPE OMP_NUM_THREADS=$OMP_NUM_THREADS" >> "$OUT/setup.txt"
echo "commit $(git rev-parse --short HEAD 2>/dev/null), started $(date)" >> "$OUT/setup.txt"

# Top of the README ("The embedded model is not yet good enough..."): the first demo, `return self.` -> `return
# self.count` and its confidence.
measure demo-unfinished-20-21 instant-edit infill examples/unfinished.py --at 20:21 --diff --model "$NEW"
# Same paragraph: `open()` -> `open(path)` and its confidence.
measure demo-unfinished-7-15 instant-edit infill examples/unfinished.py --at 7:15 --diff --model "$NEW"
# Same paragraph: `return a + b` asked for whole, and the confidence the Regenerate floor (0.8) weighs.
measure demo-sample-range instant-edit infill examples/sample.py --range 15:5-15:17 --diff --model "$NEW"

# README "The default is ..." (first list): hole cross-entropy, exact, parse and model calls per token on 100
# held-out holes per kind; also the "12% of held-out lines" at the top.
measure eval-100 instant-edit eval --model "$NEW" --kinds line lines random --cases "$C100" --samplers fast --likelihood
# Same list, "on 300 others": parse, exact and edit similarity; also the float32 side of the int8 comparison
# (README "Performance", int8).
measure eval-300-seed1 instant-edit eval --model "$NEW" --seed 1 --kinds line lines --cases "$C300" --samplers fast --likelihood
# Same list, "hole by hole on 1000 other held-out lines" against the old default (sign tests); also "9.2% of
# 1000 others" at the top.
measure pair-lines instant-edit eval --model "$NEW" --against "$OLD" --kinds line --cases "$C1000" --samplers fast --seed 2 --likelihood
# Same list, "on 1000 held-out line tails" (`--kinds line_tail`, the same command).
measure pair-line-tails instant-edit eval --model "$NEW" --against "$OLD" --kinds line_tail --cases "$C1000" --samplers fast --seed 2 --likelihood

# README "Guard and floors": the guard table and the floor table (70 per kind), and the first of the three
# sets behind "applies N edits of 810 requests", Regenerate at 0.7 / 0.8 and completions at 0.5 / 0.6 over 270.
measure guard-set1 instant-edit eval --model "$NEW" --gates guard --cases "$C70"
# Same section, the second set (`--gates guard --cases 100`).
measure guard-set2 instant-edit eval --model "$NEW" --gates guard --cases "$C100"
# Same section, the third set (`--gates guard --cases 100 --seed 1`).
measure guard-set3 instant-edit eval --model "$NEW" --gates guard --cases "$C100" --seed 1
# Same section, the two Repair tables (margins, spelling fixes, 34 whole files) and "Repair fixes N of 70";
# also the Repair line of "The default is ..." and under the typos demo.
measure repair instant-edit eval --model "$NEW" --gates repair --cases "$C70"

# README "Next edits": the table (precision / recall per kind at -8, all at -1, candidates alone), the nearby
# lines rewritten (`rewrite_nearby`), the in-process time per scenario and the server's p50 / p95 (`--lsp`).
measure next-edit-suite instant-edit eval --model "$NEW" --next-edit --cases "$C40" --lsp "$LSP35"
# Same section, the margin rule on `--seed 1` (precision / recall at -8 and -1 over 1167 expected edits).
measure next-edit-seed1 instant-edit eval --model "$NEW" --next-edit --cases "$C40" --seed 1
# README, the next-edits demo after "What the embedded model does best": the two suggestions and their gains
# (the README's command has --diff, which prints the diff without the gains; the diff is the same edits).
measure demo-next-edits instant-edit next-edits examples/sample.py --edit 6:5-6:11=config --model "$NEW"
# README, the Repair demo: the three fixes and how much the model prefers each.
measure demo-typos instant-edit infill examples/typos.py --range 1:1-19:1 --repair --diff --model "$NEW"
# README "Next edits", the caption of the VS Code picture: the gains for the two calls after `def total` ->
# `def total_sum`, on the CODE of tests/lsp/test_next_edits_e2e.py (copied here).
cat > "$OUT/total_sum.py" <<'EOF'
def total(values):
    """Add the values."""
    return sum(values)


def report(rows):
    print(total(rows))
    return total(rows) / len(rows)
EOF
measure demo-next-edits-total-sum instant-edit next-edits "$OUT/total_sum.py" --edit 1:10-1:10=_sum --model "$NEW"

# The comment in tests/test_embedded_model.py above MIN_HITS_GREEDY: what the model answers in the twelve
# obvious holes (both samplers of the test). The test itself loads the embedded model only, so this runs its
# cases on NEW.
measure obvious-holes python3 - "$NEW" <<'EOF'
import sys

import model
from model.sampler import SamplerConfig

sys.path.insert(0, "tests")
from test_embedded_model import CASES, fill  # noqa: E402

engine = model.load(sys.argv[1], device="cpu", dtype="float32")
samplers = {
    "one token per step": SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False, pad_run_above=0.0),
    "fast (default)": SamplerConfig(),
}
for name, sampler in samplers.items():
    hits = 0
    for code, accepted in CASES:
        got = fill(engine, code, sampler)
        hits += got in accepted
        print(f"{name}: {'HIT ' if got in accepted else 'miss'} {got!r} (accepted: {accepted[0]!r})")
    print(f"{name}: {hits} of {len(CASES)}\n")
EOF

# README "Performance", inline completion while typing: the first row of the typing table, three times in a
# row (miss / hit p50 and p95, hits, next after accept, within 100 ms). --completion-context 128 is what the
# server gives the embedded model; a folder passed with --model would get 256. The bench has no option for the
# completion floor: it runs at the server's default (0.6 from session 32; the README's rows were at 0.5).
measure typing-1 instant-edit bench --lsp --typing --model "$NEW" --completion-context 128 --dtype float32 --threads 1 $TYPING_SIZE
measure typing-2 instant-edit bench --lsp --typing --model "$NEW" --completion-context 128 --dtype float32 --threads 1 $TYPING_SIZE
measure typing-3 instant-edit bench --lsp --typing --model "$NEW" --completion-context 128 --dtype float32 --threads 1 $TYPING_SIZE

# README "Performance", int8 (and the KL and comments in tests/test_engine_dtype.py): argmaxes kept and mean KL
# over examples/sample.py, and the test's four requests in float32 and int8 with the preferences of any that
# differ. The test loads the embedded model only, so this runs its requests on NEW.
measure int8-sample python3 - "$NEW" <<'EOF'
import sys
from pathlib import Path

import torch

import model
from model.sampler import SamplerConfig
from model.scoring import preference

sys.path.insert(0, "tests")
from test_engine_dtype import REQUESTS  # noqa: E402

plain = model.load(sys.argv[1], device="cpu", dtype="float32")
small = model.load(sys.argv[1], device="cpu", dtype="int8")
cfg = SamplerConfig(grow=False)
for r in REQUESTS:
    a, b = plain.infill(r, cfg).text, small.infill(r, cfg).text
    line = f"float32 {a!r}, int8 {b!r}"
    if a != b:
        p32 = preference(plain, r.prefix, r.suffix, a, b)
        p8 = preference(small, r.prefix, r.suffix, a, b)
        line += f": differ, preference by float32 {p32:+.1f}, by int8 {p8:+.1f} nats"
    print(line)
ids = torch.tensor([plain.tok.encode(Path("examples/sample.py").read_text())])
with torch.inference_mode():
    a, b = plain.net(ids).logits.log_softmax(-1), small.net(ids).logits.log_softmax(-1)
kept = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
kl = (a.exp() * (a - b)).sum(-1).mean().item()
print(f"examples/sample.py, {ids.shape[1]} positions: int8 keeps {kept:.1%} of argmaxes, mean KL {kl:.4f} nats")
EOF
# Same paragraph: the int8 side of the 600 held-out holes (the float32 side is eval-300-seed1).
measure int8-eval-300-seed1 env INSTANT_EDIT_DTYPE=int8 instant-edit eval --model "$NEW" --kinds line lines --cases "$C300" --samplers fast --seed 1

# README "Which model for which machine": the embedded default's single-line row in float32, measured twice
# (p50 / p95, model calls per token, full pass / cached step, peak RSS).
measure bench-line-float32-1 instant-edit bench --threads 1 --modes threshold_cache --kind line --spans "$SPANS40" --model "$NEW" --dtype float32
measure bench-line-float32-2 instant-edit bench --threads 1 --modes threshold_cache --kind line --spans "$SPANS40" --model "$NEW" --dtype float32
# Same table, the `--dtype bfloat16` row, "just after the float32 runs".
measure bench-line-bfloat16 instant-edit bench --threads 1 --modes threshold_cache --kind line --spans "$SPANS40" --model "$NEW" --dtype bfloat16

echo "finished $(date)" >> "$OUT/setup.txt"
echo
echo "logs in $OUT (one per measurement; its command on the first line):"
cat "$OUT/status.txt"
