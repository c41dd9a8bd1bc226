#!/usr/bin/env bash
# The recipe comparison of the model card: the three recipes from the same start (random weights, the embedded
# model's tokenizer) and the same token budget, then the same held-out evaluation for each.
#   bash scripts/compare-recipes.sh OUT_DIR [TOKENS]        (TOKENS: per recipe, default 4,000,000)
# The two left-to-right recipes share their first half (next-token pre-training), which runs once. Each run uses
# one thread; with JOBS=2 the branches run side by side on two cores.
set -euo pipefail
out=${1:?usage: compare-recipes.sh OUT_DIR [TOKENS]}
tokens=${2:-4000000}
half=$((tokens / 2))
tok="$(python3 -c 'from model.engine import DEFAULT_CHECKPOINT; print(DEFAULT_CHECKPOINT)')"
mkdir -p "$out"
export OMP_NUM_THREADS=1
train() { nice -n 10 instant-edit train --tokenizer "$tok" --minutes 600 "$@"; }

mdlm() { train --out "$out/mdlm" --recipe mdlm --tokens "$tokens" > "$out/mdlm.log" 2>&1; }
ar_branches() {
  train --out "$out/ar" --recipe ar_adapt --ar-tokens "$half" --tokens "$half" > "$out/ar.log" 2>&1
  for recipe in ar_adapt ar_adapt_dense; do
    [ -e "$out/$recipe/train_state.json" ] || cp -r "$out/ar" "$out/$recipe"
  done
  train --out "$out/ar_adapt" --recipe ar_adapt --ar-tokens "$half" --tokens "$tokens" > "$out/ar_adapt.log" 2>&1 &
  [ "${JOBS:-1}" = 2 ] || wait
  train --out "$out/ar_adapt_dense" --recipe ar_adapt_dense --ar-tokens "$half" --tokens "$tokens" \
    > "$out/ar_adapt_dense.log" 2>&1
  wait
}
if [ "${JOBS:-1}" = 2 ]; then mdlm & ar_branches; wait; else mdlm; ar_branches; fi

for recipe in mdlm ar_adapt ar_adapt_dense; do
  instant-edit eval --model "$out/$recipe" --kinds line lines random --cases 100 --samplers fast --likelihood \
    2> "$out/$recipe.eval.log" | tail -n 1 > "$out/$recipe.eval.json"
done
python3 -m model.comparison "$out" "$tokens"
