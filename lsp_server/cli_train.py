"""`instant-edit train` and `instant-edit eval`: the embedded model's recipe and its held-out evaluation."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
