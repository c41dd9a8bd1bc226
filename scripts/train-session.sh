#!/usr/bin/env bash
# One session's share of the embedded model's training: continue the last committed run on one core.
#   bash scripts/train-session.sh MINUTES [OUT]      (OUT: default runs/session)
#   SIBLINGS=1 bash scripts/train-session.sh MINUTES [OUT]   (two runs, one per core, averaged with their start)
# The run resumes model/weights/candidate when it is committed, else the shipped model (instant-edit train
# --resume). Afterwards: python3 scripts/finish-session.py --session N RUN... averages the runs with their start,
# measures the soup against the fixed reference and records it in model/weights/candidate when it is the best yet
# (scripts/measure-default.sh decides promotion over model/weights/default).
set -euo pipefail
minutes=${1:?usage: train-session.sh MINUTES [OUT]}
out=${2:-runs/session}
# One thread: on a busy 2-core machine two threads run slower than one.
# The recipe: ar_adapt_dense (the comparison's winner) with edit-history rows for next edits, from session 17 on.
recipe=${RECIPE:-ar_adapt_dense_edits}
# Peak learning rate of a resumed session: 1e-4 from session 34 on (3e-4 from session 28, 1e-3 from session 21,
# 2e-3 before). Session 33's matched comparison (same start and batches, 116 min each): 1e-4 beat 3e-4 on hole CE
# (4.869 against 4.888 on 1000 held-out lines) and on sampled lines that parse (72.0% against 70.1%); session 27's
# had 3e-4 beat 1e-3 the same way. Each restart still ends above its start; the soup with the start goes below it.
lr=${LR:-1e-4}
# cosine: every session anneals and the next warms up again; it beat wsd in session 24's matched comparison.
schedule=${SCHEDULE:-cosine}
# MAX_BYTES: text taken per source root (unset: the CLI's own default, 30 MB). Session 25: on site-packages files
# the run trained on the candidate's diffusion loss is 2.396, on site-packages files the cap left out 2.474 (0.08
# nats of memorising after about 5.6 epochs). Session 26's matched comparison (same start, 18M tokens each): 120 MB
# lost to 30 MB, hole CE 5.25 against 5.17 on lines (the held-out files are the standard library's), so it stays unset.
corpus=()
if [[ -n ${MAX_BYTES:-} ]]; then corpus=(--max-bytes-per-root "$MAX_BYTES"); fi
# --compile: torch.compile's fused kernels, 1.32x the steps per second on one bf16 thread (1.12x in float32;
# session 35, instant-edit bench --train); the first step compiles (24-71 s).
# With the kernel's autogroup on, nice orders processes only within one terminal session: work started from any
# other session (an eval, the tests, a helper) gets an equal share of the CPU whatever its nice, and two runs in
# one group share a core between them. Session 36: with a nice-19 eval in another session the two runs fell from
# about 6,000 to 2,700 and 3,000 tokens/s each; with autogroup off they kept 5,800-6,300 beside it. Where the
# script may (root), it turns autogroup off and says so; elsewhere it warns.
autogroup=/proc/sys/kernel/sched_autogroup_enabled
if [[ -r $autogroup && $(cat "$autogroup") == 1 ]]; then
  if [[ -w $autogroup ]]; then
    echo 0 > "$autogroup"
    echo "train-session: turned the kernel's autogroup off so that nice keeps other work off the runs" \
      "(echo 1 > $autogroup turns it back on)" >&2
  else
    echo "train-session: the kernel's autogroup is on: work started from another terminal session will take" \
      "half the CPU from the runs whatever its nice (as root: echo 0 > $autogroup)" >&2
  fi
fi
run() {  # run OUT SEED
  OMP_NUM_THREADS=1 nice -n 10 instant-edit train --out "$1" --resume --minutes "$minutes" --recipe "$recipe" \
    --lr "$lr" --lr-schedule "$schedule" --seed "$2" --compile "${corpus[@]}"
}
# SIBLINGS=1: for a session whose other work is light, a sibling run trains on the second core too (its own
# seed, so its own batches), and the two are averaged with the checkpoint they started from into OUT at the end
# (instant-edit average, model/average.py). Session 29 (model card, "Averaging comparison"): two 55-minute siblings
# averaged beat each of them hole by hole. Session 31: with their start as a third member the soup's cross-entropy
# was the same (4.868 against 4.869 on 1000 held-out lines) and its sampled lines parsed as often as the start's
# (72.5% against 71.3% without it; the main run alone 67.4%). Session 36's Xeon (AMX): one compiled bf16 run alone
# 6,100-6,300 tokens/s; two at once 5,800-6,600 each, so a sibling doubles the session's training.
if [[ ${SIBLINGS:-0} == 1 ]]; then
  start=model/weights/default
  if [[ -f model/weights/candidate/model.safetensors ]]; then start=model/weights/candidate; fi  # what --resume takes
  run "$out-a" 0 &
  run "$out-b" 1 &
  wait
  exec instant-edit average "$out-a" "$out-b" "$start" --out "$out"
fi
run "$out" 0
