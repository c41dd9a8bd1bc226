"""The training recipes: causal and annealed attention, shifted reading, several holes per row, resuming."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace

import torch

import model
from model import examples
from model.config import ModelConfig
from model.network import Denoiser
from model.recipe import RECIPES, attention_mask, shift_selection
from model.engine import DEFAULT_CHECKPOINT
from model.tokenizer import CodeTokenizer
from model.train import FileSampler, TrainConfig, make_batch, seed_run_folder, train
from tests.test_train import STDLIB, tiny_config


def shipped_tokenizer() -> tuple[CodeTokenizer, str]:
    """The embedded model's tokenizer (rows are laid out as real training lays them) and a real file."""
    return CodeTokenizer.load(DEFAULT_CHECKPOINT), (STDLIB / "textwrap.py").read_text()


def test_attention_mask_goes_from_causal_to_bidirectional():
    causal = attention_mask(6, 0.0)[0, 0]
    assert torch.equal(causal, torch.ones(6, 6, dtype=torch.bool).tril())
    gen = torch.Generator().manual_seed(0)
    half = attention_mask(64, 0.5, gen)[0, 0]
    assert half[torch.ones(64, 64, dtype=torch.bool).tril()].all()  # the past is always visible
    future = half.triu(1).sum().item() / (64 * 63 / 2)
    assert 0.4 < future < 0.6
    assert attention_mask(6, 1.0) is None


def test_causal_mask_hides_the_future_from_the_network():
    net = Denoiser(ModelConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=2, num_key_value_heads=1)).eval()
    ids = torch.randint(3, 50, (1, 10))
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 50
    mask = attention_mask(10, 0.0)
    a = net(ids, attn_mask=mask).logits
    b = net(changed, attn_mask=mask).logits
    assert torch.allclose(a[0, :7], b[0, :7], atol=1e-6)
    assert not torch.allclose(a[0, 7:], b[0, 7:])
    # Without the mask the same change reaches every position (bidirectional inference).
    assert not torch.allclose(net(ids).logits[0, :7], net(changed).logits[0, :7])


def test_shift_selection_reads_one_to_the_left():
    masked = torch.tensor([[False, True, False, True], [False, False, True, False]])
    assert shift_selection(masked).tolist() == [[True, False, True, False], [False, True, False, False]]


def test_rows_with_several_holes_hold_truth_then_pad():
    tok, text = shipped_tokenizer()
    rng = random.Random(0)
    counts = []
    for _ in range(100):
        made = examples.multi_infill_example(tok, text, "python", 256, rng, count=4)
        if made is None:
            continue
        assert len(made.ids) <= 256
        counts.append(len(made.holes))
        last_end = 0
        for start, budget in made.holes:
            assert start >= last_end and start + budget <= len(made.ids)
            region = made.ids[start : start + budget]
            real = [t for t in region if t != tok.special.pad]
            assert region[: len(real)] == real and tok.special.mask not in region  # truth first, then pad
            last_end = start + budget
    assert max(counts) >= 4 and sum(counts) / len(counts) > 2.5


def test_dense_infill_puts_more_loss_tokens_in_a_step(tmp_path):
    cfg = tiny_config(tmp_path, tokens=0)
    tok, _ = shipped_tokenizer()
    from model.corpus import build_corpus

    files = build_corpus(cfg.roots, 10**9).train
    per_step = {}
    for name in ("ar_adapt", "ar_adapt_dense"):
        run = replace(cfg, recipe=name, infill_share=1.0, ar_tokens=0, anneal_tokens=0, seq_len=256)
        rng = random.Random(1)
        sampler = FileSampler(files, rng)
        per_step[name] = sum(len(make_batch(tok, sampler, run, rng)["targets"]) for _ in range(20)) / 20
    # About twice as many on this corpus (1.98x-2.05x across Python versions' stdlib files); 1.5x leaves room
    # for the corpus to vary while still failing if rows went back to one hole each.
    assert per_step["ar_adapt_dense"] > 1.5 * per_step["ar_adapt"], per_step


def test_shifted_batches_read_every_masked_token_from_its_left_neighbour(tmp_path):
    cfg = replace(tiny_config(tmp_path, tokens=0), recipe="ar_adapt_dense", ar_tokens=0)
    tok, _ = shipped_tokenizer()
    from model.corpus import build_corpus

    rng = random.Random(2)
    batch = make_batch(tok, FileSampler(build_corpus(cfg.roots, 10**9).train, rng), cfg, rng)
    masked = batch["ids"] == tok.special.mask
    assert not masked[:, 0].any()
    assert torch.equal(batch["select"][:, :-1], masked[:, 1:]) and len(batch["targets"]) == int(masked.sum())


def test_left_to_right_start_then_adaptation_trains_and_serves(tmp_path):
    torch.set_num_threads(2)
    cfg = replace(tiny_config(tmp_path, tokens=96 * 8 * 90), recipe="ar_adapt", ar_tokens=96 * 8 * 60,
                  anneal_tokens=96 * 8 * 10)
    state = train(cfg)
    log = [json.loads(x) for x in (cfg.out / "train_log.jsonl").read_text().splitlines()]
    assert [m["phase"] for m in log][:1] == ["ar"] and log[-1]["phase"] == "diffusion"
    ar_losses = [m["loss"] for m in log if m["phase"] == "ar"]
    assert ar_losses[-1] < ar_losses[0]
    assert json.loads((cfg.out / "config.json").read_text())["diffusion"]["logit_shift"] is True
    assert json.loads((cfg.out / "runs.jsonl").read_text().splitlines()[-1])["recipe"] == "ar_adapt"
    assert state.tokens_seen >= cfg.token_budget
    engine = model.load(cfg.out, device="cpu")
    res = engine.infill(model.engine.InfillRequest("def f(a, b):\n    ", "\n", single_line=True))
    assert res.nfe >= 1 and "\n" not in res.text


def test_resume_from_a_committed_checkpoint_goes_on_from_its_step(tmp_path):
    cfg = tiny_config(tmp_path, tokens=96 * 8 * 12)
    first = train(cfg)
    # What a commit holds: the checkpoint without the optimizer state.
    (cfg.out / "optimizer.safetensors").unlink()
    target = replace(cfg, out=tmp_path / "next", token_budget=96 * 8 * 20)
    seed_run_folder(target, resume_from=cfg.out, tokenizer_from=None)
    resumed = train(target)
    assert resumed.step > first.step and resumed.losses[: len(first.losses)] == first.losses
    assert len((target.out / "runs.jsonl").read_text().splitlines()) == 2
    # A folder that already holds a run is never overwritten by seeding.
    before = (target.out / "train_state.json").read_text()
    seed_run_folder(target, resume_from=cfg.out, tokenizer_from=None)
    assert (target.out / "train_state.json").read_text() == before


def test_a_recipe_that_does_not_fit_the_run_is_refused(tmp_path):
    cfg = tiny_config(tmp_path, tokens=96 * 8 * 3)
    train(cfg)
    try:
        train(replace(cfg, recipe="ar_adapt", token_budget=96 * 8 * 6))
    except ValueError as e:
        assert "shifted" in str(e)
    else:
        raise AssertionError("an mdlm run resumed as ar_adapt must be refused")


def test_cli_resume_without_a_checkpoint_is_one_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lsp_server.cli", "train", "--out", str(tmp_path / "o"), "--resume", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "holds no checkpoint" in proc.stderr and "Traceback" not in proc.stderr


def test_every_recipe_is_named_in_the_cli():
    assert set(RECIPES) == {"mdlm", "ar_adapt", "ar_adapt_dense", "ar_adapt_dense_edits"}


def test_edit_rows_are_mixed_into_the_edits_recipe(tmp_path, monkeypatch):
    from model import edit_examples

    cfg = replace(tiny_config(tmp_path, tokens=0), recipe="ar_adapt_dense_edits", ar_tokens=0, infill_share=1.0)
    assert RECIPES["ar_adapt_dense_edits"].edit_share == 0.1
    made = []
    real = edit_examples.edit_example
    monkeypatch.setattr(edit_examples, "edit_example", lambda *a: made.append(real(*a)) or made[-1])
    tok, _ = shipped_tokenizer()
    from model.corpus import build_corpus

    rng = random.Random(3)
    sampler = FileSampler(build_corpus(cfg.roots, 10**9).train, rng)
    batches = [make_batch(tok, sampler, cfg, rng) for _ in range(10)]
    assert any(m is not None for m in made)  # some rows of these batches carry edit history
    assert all(len(b["targets"]) > 0 for b in batches)


def test_a_row_with_nothing_to_mask_is_skipped_not_a_crash(tmp_path):
    from model.train import mask_rows

    cfg = replace(tiny_config(tmp_path, tokens=0), recipe="ar_adapt_dense", ar_tokens=0)
    # Session 17's run died on this: a one-token hole at position 0 of a shifted row has no reading position.
    rows = [([5, 6, 7, 8], [(0, 1)]), ([5, 6, 7, 8, 9], [(1, 3)])]
    batch = mask_rows(rows, 2, 1, cfg, random.Random(0), 0)
    assert not (batch["ids"][0] == 1).any() and (batch["ids"][1] == 1).any()
    assert len(batch["targets"]) == int((batch["ids"] == 1).sum()) > 0
