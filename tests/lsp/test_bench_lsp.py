"""`run_lsp_bench`: a tiny run through a real server subprocess and the engine in-process."""

from __future__ import annotations


def test_lsp_bench_reports_both_sides():
    from argparse import Namespace

    from lsp_server.cli.bench_lsp import run_lsp_bench

    report = run_lsp_bench(Namespace(requests=3, warmup=1, device="cpu", model=None))
    assert report["requests"] == 3 and report["device"] == "cpu"
    for side in ("server_ms", "direct_ms"):
        assert 0 < report[side]["p50"] <= report[side]["p95"]
    assert isinstance(report["overhead_pct"], float)


def test_typing_bench_replays_keys_and_accepts():
    from argparse import Namespace

    from lsp_server.cli.bench_typing import run_typing_bench

    args = Namespace(device="cpu", model=None, threads=1, typing_chars=60, key_ms=5, accept_cases=2, read_ms=300)
    report = run_typing_bench(args)
    assert report["typed_chars"] >= 60 and report["pause_requests"] == sum(report["sources"].values())
    assert report["pause_requests"] > 5
    asked = sum(n for s, n in report["sources"].items() if s in ("model", "cache", "typed", "prefetch"))
    assert report["hit_rate"] is None or 0 <= report["hit_rate"] <= 1 and asked > 0
    # Every accept is answered; with 300 ms to read, the prepared next suggestion is what answers it.
    assert report["accepts"] == 2 and report["next_sources"].get("prefetch", 0) >= 1, report


def test_typing_bench_types_a_file_the_default_model_held_out():
    """The replayed file comes from the shipped checkpoint's held-out manifest (not a fallback found elsewhere),
    so the README's typing figures stay comparable across sessions."""
    import json

    from lsp_server.cli.bench_typing import held_out_text
    from model.engine import DEFAULT_CHECKPOINT

    path, text = held_out_text()
    manifest = (DEFAULT_CHECKPOINT / "heldout.jsonl").read_text().splitlines()
    assert path in {json.loads(line)["path"] for line in manifest if line.strip()}
    assert 3000 <= len(text) <= 12000
