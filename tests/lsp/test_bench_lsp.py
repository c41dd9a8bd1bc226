"""`run_lsp_bench`: a tiny run through a real server subprocess and the engine in-process."""

from __future__ import annotations


def test_lsp_bench_reports_both_sides():
    from argparse import Namespace

    from lsp_server.bench_lsp import run_lsp_bench

    report = run_lsp_bench(Namespace(requests=3, warmup=1, device="cpu", model=None))
    assert report["requests"] == 3 and report["device"] == "cpu"
    for side in ("server_ms", "direct_ms"):
        assert 0 < report[side]["p50"] <= report[side]["p95"]
    assert isinstance(report["overhead_pct"], float)
