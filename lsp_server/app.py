"""The language server with its handlers attached: what `instant-edit serve` runs."""

from __future__ import annotations

from lsp_server import handlers
from lsp_server.server import InstantEditServer


def build_server(model: str | None = None, device: str | None = None) -> InstantEditServer:
    server = InstantEditServer(model, device)
    handlers.register(server)
    return server
