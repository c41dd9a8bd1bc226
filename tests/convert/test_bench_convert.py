"""`instant-edit bench --convert`: the report's shape, on a handful of units (speed is not asserted here)."""

from __future__ import annotations

import argparse

from lsp_server.cli.bench_convert import run_convert_bench


def test_convert_bench_reports_batched_and_one_per_call_on_the_same_units():
    args = argparse.Namespace(model=None, device="cpu", spans=6, context=96, threshold=0.9, threads=1, seed=0)
    report = run_convert_bench(args)
    assert report["units"] == 6
    for mode in ("batched", "one_per_call"):
        assert report[mode]["units"] == 6 and report[mode]["tokens"] > 0 and report[mode]["units_per_s"] > 0
    assert report["batches"] < 6
    assert report["batched"]["model_calls"] < report["one_per_call"]["model_calls"]
    assert report["speedup_units_per_s"] > 0
