"""`instant-edit bench`: latency, throughput and model calls per token, as one JSON object on the last line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
