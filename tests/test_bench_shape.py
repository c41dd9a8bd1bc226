"""`instant-edit bench --shape NAME` (issue 12): random weights of a released model's shapes through the engine bench.

The full shapes take minutes per mode on a shared 2-core CPU, so the command is run here with one layer kept
(`--layers 1`) and one span; the shapes themselves are checked by their parameter counts, without allocating.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from model.bench import SHAPES, shape_parameters

ENGINE_KEYS = {"p50_ms", "p95_ms", "tokens_per_s", "nfe_per_token", "exact_match", "peak_rss_mb"}


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server.cli", "bench", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "name, total, non_embedding",
    [("qwen2.5-0.5b", 0.494e9, 0.358e9), ("qwen3-0.6b", 0.596e9, 0.440e9)],  # the model cards' 0.49B/0.36B, 0.6B/0.44B
)
def test_shapes_have_the_released_parameter_counts(name, total, non_embedding):
    shape = SHAPES[name]
    count = shape_parameters(shape)
    assert abs(count - total) < 0.001e9
    assert abs(count - shape.vocab_size * shape.hidden_size - non_embedding) < 0.001e9  # tied head counted once


@pytest.mark.slow  # the 151,936-token output head is the real cost even with one layer: about a minute idle
def test_shape_bench_prints_the_engine_bench_keys():
    proc = bench("--shape", "qwen3-0.6b", "--layers", "1", "--spans", "1", "--context", "128", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for mode in ("baseline", "threshold", "threshold_cache"):
        assert set(report[mode]) >= ENGINE_KEYS and report[mode]["p50_ms"] > 0
    assert report["spans"] == 1 and report["context_tokens"] > 0 and report["cache_step"]["full_ms"] > 0
    assert (report["shape"], report["layers"]) == ("qwen3-0.6b", 1)
    assert report["parameters"] == shape_parameters(replace(SHAPES["qwen3-0.6b"], num_hidden_layers=1))


@pytest.mark.parametrize(
    "args, says", [(("--shape", "gpt-9"), "unknown shape"), (("--shape", "qwen3-0.6b", "--model", "x"), "--model")]
)
def test_bad_shape_requests_are_refused(args, says):
    proc = bench(*args)
    assert proc.returncode == 2 and says in proc.stderr
