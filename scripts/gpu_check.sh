#!/usr/bin/env bash
# The GPU check of issue 7 (open diffusion checkpoints), for a session that has a machine with one CUDA GPU:
#   scripts/gpu_check.sh                      # random weights, Qwen2-7B (Dream) shapes, bf16
#   scripts/gpu_check.sh --model PATH_OR_ID   # a real checkpoint instead
#   scripts/gpu_check.sh --tiny --device cpu  # the same code on tiny shapes (a smoke test without a GPU)
# Prints the card and software versions, runs the GPU-marked loader tests, then the benchmark: tokens/s and peak
# memory for a 256-token rewrite in 2,048 tokens of context, 1 vs 8 tokens/step, cache on/off, batch 1 and 8, then
# the same rewrite at batch 1 on a block-diffusion shape (Fast-dLLM v2 7B, random weights: block 32, sub-blocks 8).
# The benchmark's JSON is the last line of stdout, and is also written to $OUT/gpu_check.json when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'

# Loader on CUDA: bf16 weights, logits close to float32 (skipped without a GPU).
timeout 240 python -m pytest tests/test_families.py -q -m gpu -p no:cacheprovider || echo "gpu tests failed: $?"

report="$(timeout 420 python -m lsp_server.cli bench --gpu --device cuda "$@" | tail -n 1)"
echo "$report"
if [ -n "${OUT:-}" ]; then
  printf '%s\n' "$report" > "$OUT/gpu_check.json"
fi
