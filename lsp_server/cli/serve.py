"""`instant-edit serve [--tcp HOST:PORT] [--model PATH] [--device D]`: run the language server (stdio by default)."""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_HOST = "127.0.0.1"  # never listen on every interface unless asked


def parse_address(text: str) -> tuple[str, int]:
    """'PORT' or 'HOST:PORT' -> (host, port); the host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or PORT, got {text!r}") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} is outside 1-65535")
    return host.strip("[]") or DEFAULT_HOST, number


def run(args: argparse.Namespace) -> int:
    from lsp_server.app import build_server

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    server = build_server(model=args.model, device=args.device)
    if args.tcp:
        host, port = args.tcp
        print(f"instant-edit: listening on {host}:{port}", file=sys.stderr)
        server.start_tcp(host, port)
        return 0
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the JSON-RPC stream
    server.start_io(stdin, stdout)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server (LSP over stdio, or TCP with --tcp)")
    p.add_argument("--tcp", type=parse_address, metavar="HOST:PORT", help="listen on TCP (host: 127.0.0.1)")
    p.add_argument("--model", default=None, help="checkpoint folder (default: the embedded model)")
    p.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: auto)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)
