"""The training recipe on a tiny corpus: the loss falls, checkpoints resume, the card is written."""

from __future__ import annotations

import json
import math
import random
import shutil
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model import examples
from model.card import write_card
from model.checkpoint import load_network
from model.tokenizer import CodeTokenizer
from model.train import TrainConfig, lr_at, train

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def tiny_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    for name in ("json/decoder.py", "json/encoder.py", "textwrap.py", "bisect.py", "colorsys.py", "keyword.py"):
        shutil.copy(STDLIB / name, root / name.replace("/", "_"))
    return root


def tiny_config(tmp_path: Path, tokens: int) -> TrainConfig:
    return TrainConfig(
        out=tmp_path / "run", roots=[tiny_corpus(tmp_path)] if not (tmp_path / "src").exists() else [tmp_path / "src"],
        vocab_size=400, seq_len=96, batch_size=8, lr=3e-3, warmup_steps=10, time_budget_s=600,
        token_budget=tokens, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=128, save_every_s=1e9,
    )


def test_loss_falls_and_training_resumes(tmp_path):
    torch.set_num_threads(2)
    cfg = tiny_config(tmp_path, tokens=96 * 8 * 80)
    state = train(cfg)
    assert state.step >= 70
    first, last = state.losses[0], min(state.losses[-2:])
    uniform = math.log(cfg.vocab_size)  # the loss of a model that has learned nothing
    assert last < first and last < 0.85 * uniform, state.losses

    # Resume: the step count continues and the optimizer state is reused.
    more = TrainConfig(**{**cfg.__dict__, "token_budget": 96 * 8 * 90})
    resumed = train(more)
    assert resumed.step > state.step and resumed.losses[: len(state.losses)] == state.losses
    runs = (cfg.out / "runs.jsonl").read_text().splitlines()
    assert len(runs) == 2

    card = write_card(cfg.out).read_text()
    assert "parameters" in card and "Tokens seen" in card and "| train | python |" in card
    assert "## Size comparison" not in card
    arm = {"name": "control", "layers": 2, "parameters": 123456, "minutes": 60.0, "tokens": 7_200_000,
           "hole_ce": [5.19, 6.07, 5.43], "line": {"exact_match": 0.09, "edit_similarity": 0.2317, "parse_rate": 0.55},
           "seed1": {"line_exact": 0.09, "line_parse": 0.5767, "lines_parse": 0.4933}}
    (cfg.out / "size_comparison.json").write_text(json.dumps({"setup": "Same start.", "arms": [arm], "finding": "Kept."}))
    card = write_card(cfg.out).read_text()
    assert "## Size comparison" in card and "Kept." in card
    assert "| control | 2 | 123,456 | 60 | 7,200,000 | 2,000 | 5.190 / 6.070 / 5.430 | 9% / 0.232 / 55% | 9.0% / 57.7%, 49.3% |" in card
    wider = {**arm, "name": "bigger corpus", "seed2": {"line_exact": 0.081, "line_parse": 0.612}}
    (cfg.out / "corpus_comparison.json").write_text(
        json.dumps({"setup": "Same tokens.", "arms": [arm, wider], "finding": "Chosen."}))
    card = write_card(cfg.out).read_text()
    assert "## Corpus-cap comparison" in card and "1000 more lines (seed 2): exact / parse |" in card
    assert "57.7%, 49.3% | n/a |" in card and "57.7%, 49.3% | 8.1% / 61.2% |" in card
    paired = {"hole_ce": 4.955, "exact": 0.092, "exact_only": [9, 1], "exact_p": 0.0215, "parse": 0.697,
              "parse_only": [43, 72], "parse_p": 0.0004, "similarity": 0.282}
    soups = [{"name": "soup", "made_of": "a + b", "core_minutes": 110, "tokens": 24_749_960,
              "hole_ce": [5.0702, 5.9704, 5.3073], "paired": paired},
             {"name": "a", "made_of": "one run", "core_minutes": 55, "tokens": 12_474_500, "hole_ce": None,
              "paired": paired}]
    (cfg.out / "averaging_comparison.json").write_text(json.dumps({"setup": "S.", "rows": soups, "finding": "F."}))
    card = write_card(cfg.out).read_text()
    assert "## Averaging comparison" in card
    assert ("| soup | a + b | 110 | 24,749,960 | 5.070 / 5.970 / 5.307 | 4.955 | 9.2% (9 / 1, p 0.021) | "
            "69.7% (43 / 72, p < 0.001) | 0.282 |") in card
    assert "| a | one run | 55 | 12,474,500 | not measured | 4.955 |" in card
    manifest = [json.loads(x) for x in (cfg.out / "corpus_manifest.jsonl").read_text().splitlines()]
    assert {row["split"] for row in manifest} <= {"train", "held_out"} and len(manifest) == 6


def test_infill_examples_tokenize_the_span_on_its_own(tmp_path):
    cfg = tiny_config(tmp_path, tokens=0)
    from model.tokenizer import save_tokenizer, train_tokenizer

    text = (STDLIB / "textwrap.py").read_text()
    (tmp_path / "tok").mkdir()
    save_tokenizer(train_tokenizer([text], 400), tmp_path / "tok")
    tok = CodeTokenizer.load(tmp_path / "tok")
    rng = random.Random(0)
    seen = set()
    for _ in range(200):
        made = examples.infill_example(tok, text, "python", cfg.seq_len, rng)
        if made is None:
            continue
        layout, hole = made
        seen.add(hole.kind)
        region = layout.ids[layout.span_start : layout.span_start + layout.budget]
        truth = text[hole.start : hole.end]
        assert region[: layout.truth_len] == tok.encode(truth)
        assert all(t == tok.special.pad for t in region[layout.truth_len :])
        assert len(layout.ids) <= cfg.seq_len
    assert seen == set(examples.SPAN_KINDS)


def test_wsd_schedule_holds_the_peak_then_decays():
    cfg = TrainConfig(out=Path("unused"), lr=1e-3, warmup_steps=10, lr_schedule="wsd", decay_share=0.2)
    assert lr_at(cfg, 5, 0.0) < 1e-3  # warming up
    assert lr_at(cfg, 100, 0.1) == lr_at(cfg, 100, 0.79) == 1e-3  # stable
    assert 1e-4 < lr_at(cfg, 100, 0.9) < 1e-3 and math.isclose(lr_at(cfg, 100, 1.0), 1e-4)
    cosine = TrainConfig(out=Path("unused"), lr=1e-3, warmup_steps=10)
    assert lr_at(cosine, 100, 0.5) < 1e-3 and math.isclose(lr_at(cosine, 100, 1.0), 1e-4)


def test_a_wsd_run_keeps_its_stable_weights_and_the_next_goes_on_from_them(tmp_path):
    torch.set_num_threads(2)
    tiny = tiny_config(tmp_path, tokens=96 * 8 * 24).__dict__
    cfg = TrainConfig(**{**tiny, "lr_schedule": "wsd", "decay_share": 0.25})
    first = train(cfg)
    assert 0 < first.stable_step < first.step  # kept where the decay began, then decayed on
    stable = load_file(str(cfg.out / "stable.safetensors"))
    final = load_file(str(cfg.out / "model.safetensors"))
    assert set(stable) == set(final) and any(not torch.equal(stable[k], final[k]) for k in final)

    more = TrainConfig(**{**cfg.__dict__, "token_budget": 96 * 8 * 36})
    second = train(more)
    last = json.loads((cfg.out / "runs.jsonl").read_text().splitlines()[-1])
    assert last["from_stable"] == {"step": first.stable_step, "tokens": first.stable_tokens}
    assert last["schedule"].startswith("wsd") and second.stable_step > first.step  # its own decay kept anew


def test_a_compiled_run_trains_the_same_network_as_an_eager_one(tmp_path):
    # Same seed, same batches: the compiled steps (fused kernels) must follow the eager run's losses closely and
    # leave a checkpoint of the same layout, or `--compile` would train something else than the run it claims.
    torch.set_num_threads(2)
    eager_cfg = tiny_config(tmp_path, tokens=96 * 8 * 45)
    compiled_cfg = TrainConfig(**{**eager_cfg.__dict__, "out": tmp_path / "compiled", "compile": True})
    eager, compiled = train(eager_cfg), train(compiled_cfg)
    assert compiled.step == eager.step and len(compiled.losses) == len(eager.losses) > 0
    assert compiled.losses == pytest.approx(eager.losses, rel=0.02)
    record = json.loads((compiled_cfg.out / "runs.jsonl").read_text().splitlines()[-1])
    assert record["precision"].endswith(", compiled")
    a, b = load_network(eager_cfg.out).state_dict(), load_network(compiled_cfg.out).state_dict()
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 0.05


def test_the_training_bench_times_both_kinds_of_step_on_the_same_weights(tmp_path):
    from model.bench_train import TrainBenchConfig, run_train_bench

    cfg = tiny_config(tmp_path, tokens=96 * 8 * 4)
    train(cfg)
    lines = []
    report = run_train_bench(TrainBenchConfig(model=cfg.out, steps=4, roots=cfg.roots), lines.append)
    assert report["steps"] == 4 and lines[0].startswith("compiled in ")
    assert report["ms_per_step"]["eager"] > 0 and report["ms_per_step"]["compiled"] > 0
    assert report["speedup"] == pytest.approx(report["tokens_per_s"]["compiled"] / report["tokens_per_s"]["eager"],
                                              rel=0.01)
    # The first batch meets the same weights in both copies: the same loss up to kernel rounding.
    assert report["first_loss"]["compiled"] == pytest.approx(report["first_loss"]["eager"], rel=0.01)
