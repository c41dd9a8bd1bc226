"""`instant-edit` command line: every subcommand calls the same pipeline functions the server uses."""

from __future__ import annotations

import argparse
import sys

from lsp_server.cli import bench, infill, next_edits, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="instant-edit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    # Each module registers its own subcommand(s) and sets `func` on its parser.
    for module in (infill, next_edits, bench, train):
        module.register(sub)
    for optional in ("lsp_server.cli.serve", "lsp_server.cli.convert"):
        try:
            __import__(optional, fromlist=["register"]).register(sub)
        except ModuleNotFoundError as e:
            if e.name != optional:  # a real import error inside the module must not be hidden
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

