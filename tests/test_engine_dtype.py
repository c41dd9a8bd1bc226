"""int8 weights on the CPU (`--dtype int8`, setting `dtype`): Linear layers quantized, answers close to float32."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import model
from lsp_server import settings
from model.engine import quantize_int8
from model.sampler import SamplerConfig
from model.scoring import preference

pytestmark = pytest.mark.usefixtures("one_thread")
NEAR_TIE = 3.0  # nats
MEASURED_KL = 0.054  # nats per position, float32 against int8 over examples/sample.py
ROOT = Path(__file__).resolve().parents[1]

REQUESTS = [
    model.InfillRequest("import os\n\n\ndef read(path):\n    with open(path) as fh:\n        return ", "\n"),
    model.InfillRequest("class Counter:\n    def __init__(self):\n        self.count = ", "\n"),
    model.InfillRequest("for i in range(10):\n    print(", ")\n"),
    model.InfillRequest("def add(a, b):\n    return ", "\n\n\nprint(add(1, 2))\n"),
]


def test_int8_quantizes_every_linear_layer_and_answers_like_float32():
    plain = model.load(None, device="cpu", dtype="float32")
    small = model.load(None, device="cpu", dtype="int8")
    assert small.precision == "int8" and plain.precision == "float32"
    linear = [m for m in small.net.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [m for m in small.net.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert not linear and len(quantized) == sum(isinstance(m, torch.nn.Linear) for m in plain.net.modules())
    cfg = SamplerConfig(grow=False)
    answers = [(r, plain.infill(r, cfg).text, small.infill(r, cfg).text) for r in REQUESTS]
    # int8 rounding may flip one step of the denoising chain, and the rest of the answer follows it, so a sampled
    # answer may differ, even to one float32 rates well below its own (session 30's default: `i, i)` -> `i, hi)`,
    # -7.9 nats; session 30's candidate differed on all four requests, `a` -> `add(a, b)` at -13.9; session 32's
    # default on one, `self` -> `self.count` at -0.9). How often that costs a right answer is measured on 600
    # held-out holes (README, "int8"), not on four requests. What int8 must keep is the network's judgement: it
    # rates each such pair within NEAR_TIE nats of float32 (those three: -7.3, -13.2 and +0.3).
    flips = {(a, b): (preference(plain, r.prefix, r.suffix, a, b), preference(small, r.prefix, r.suffix, a, b))
             for r, a, b in answers if a != b}
    assert all(abs(p32 - p8) < NEAR_TIE for p32, p8 in flips.values()), flips
    ids = torch.tensor([plain.tok.encode((ROOT / "examples" / "sample.py").read_text())])
    with torch.inference_mode():
        a, b = plain.net(ids).logits.log_softmax(-1), small.net(ids).logits.log_softmax(-1)
    # Over examples/sample.py (127 positions) session 32's default keeps 90% of argmaxes under int8 at a mean
    # KL divergence of 0.054 nats per position (session 30's: 87% and 0.057; session 28's: 86% and 0.057;
    # session 22's kept 87%, session 20's 84%, the model before it over 90%; session 30's candidate 85% and
    # 0.062). A broken quantization keeps next to none.
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.75
    assert (a.exp() * (a - b)).sum(-1).mean() < 4 * MEASURED_KL


def test_int8_is_for_the_cpu_and_the_setting_is_checked():
    net = model.load(None, device="cpu", dtype="float32").net
    with pytest.raises(ValueError, match="CPU only"):
        quantize_int8(net, "cuda")
    good, problems = settings.overrides({"dtype": "int8"})
    assert good == {"dtype": "int8"} and not problems
    good, problems = settings.overrides({"dtype": "int4"})
    assert not good and "invalid value 'int4'" in problems[0]
