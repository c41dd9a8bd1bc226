"""The real server as a subprocess (pytest-lsp) with the embedded model, and a client that records what it gets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Union

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_server import positions

SERVER = [sys.executable, "-m", "lsp_server.cli", "serve"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # 2 shared cores: one torch thread is faster

SAMPLE = '''def add(a, b):
    return a + b


def scale(values, factor):
    """Multiply every value."""
    out = []
    for v in values:
        out.append(v * factor)
    return out


def total(values):
    return <mask>
'''


def capabilities(resolve: bool = True, encodings: list[str] | None = None, progress: bool = True):
    """Client capabilities: inline completion declared by hand (pytest-lsp's profiles lack it)."""
    resolve_support = types.ClientCodeActionResolveOptions(properties=["edit"]) if resolve else None
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None,
        window=types.WindowClientCapabilities(work_done_progress=progress),
        workspace=types.WorkspaceClientCapabilities(apply_edit=True, configuration=True),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(resolve_support=resolve_support, data_support=True),
            inline_completion=types.InlineCompletionClientCapabilities(),
        ),
    )


class Session:
    """Helpers over one client: start, open documents, wait for the model, apply received edits."""

    def __init__(self, client: LanguageClient, root: Path):
        self.client = client
        self.root = root
        self.drafts: list[dict] = []
        self.statuses: list[dict] = []
        self.confidences: list[dict] = []  # instantEdit/confidence notifications (inline completions)
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.texts: dict[str, str] = {}
        self.encoding = positions.UTF16

    async def start(self, options: dict | None = None, **caps) -> types.InitializeResult:
        result = await self.client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(**caps), root_uri=self.root.as_uri(), initialization_options=options or {}
            )
        )
        self.encoding = str(getattr(result.capabilities.position_encoding, "value", "utf-16"))
        return result

    async def wait_status(self, state: str, timeout: float = 60) -> dict:
        async def poll():
            while not any(s["state"] == state for s in self.statuses):
                await asyncio.sleep(0.05)
            return next(s for s in self.statuses if s["state"] == state)

        return await asyncio.wait_for(poll(), timeout)

    def open(self, name: str, text: str, language: str = "python", version: int = 1) -> str:
        uri = (self.root / name).as_uri()
        self.texts[uri] = text
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
            )
        )
        return uri

    def insert_at_line(self, uri: str, line: int, text: str, version: int) -> None:
        """Type `text` at the start of `line` as an incremental change, here and in the server's copy."""
        at = positions.offset_at(positions.Lines.of(self.texts[uri]), line, 0, self.encoding)
        self.texts[uri] = self.texts[uri][:at] + text + self.texts[uri][at:]
        start = types.Position(line=line, character=0)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=types.Range(start=start, end=start), text=text)
                ],
            )
        )

    async def code_actions(self, uri: str, rng: types.Range) -> list[types.CodeAction]:
        return await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )

    def range_of(self, uri: str, start: int, end: int) -> types.Range:
        lines = positions.Lines.of(self.texts[uri])
        (a, b), (c, d) = (positions.position_at(lines, o, self.encoding) for o in (start, end))
        return types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))

    def apply(self, uri: str, edits: list[types.TextEdit]) -> str:
        """The text after the edits, converting positions in the session's encoding."""
        text = self.texts[uri]
        lines = positions.Lines.of(text)
        spans = [
            (
                positions.range_offsets(
                    lines,
                    (e.range.start.line, e.range.start.character),
                    (e.range.end.line, e.range.end.character),
                    self.encoding,
                ),
                e.new_text,
            )
            for e in edits
        ]
        for (a, b), new in sorted(spans, reverse=True):
            text = text[:a] + new + text[b:]
        return text


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def client(lsp_client: LanguageClient):
    yield
    try:
        if lsp_client.capabilities is not None:
            await asyncio.wait_for(lsp_client.shutdown_session(), 20)
    finally:
        server = lsp_client._server  # a test that failed before initialize must not hang the suite
        if server is not None and server.returncode is None:
            server.kill()


@pytest.fixture
def session(client: LanguageClient, tmp_path: Path) -> Session:
    s = Session(client, tmp_path)
    # lsprotocol's converter reads a CodeAction that carries a `command` object as a bare Command (a client-side
    # quirk; VS Code and Neovim tell them apart by the type of `command`): decide the same way here.
    client.protocol._converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 - the exact typing.Union lsprotocol registers
        lambda obj, _: client.protocol._converter.structure(
            obj, types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        ),
    )

    @client.feature("instantEdit/draft")
    def on_draft(params):
        s.drafts.append(_plain(params))

    @client.feature("instantEdit/status")
    def on_status(params):
        s.statuses.append(_plain(params))

    @client.feature("instantEdit/confidence")
    def on_confidence(params):
        s.confidences.append(_plain(params))

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(params: types.ApplyWorkspaceEditParams):
        s.applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    return s


def _plain(params):
    """Params of custom notifications arrive as nested namedtuples: back to plain dicts."""
    if hasattr(params, "_asdict"):
        return {k: _plain(v) for k, v in params._asdict().items()}
    if isinstance(params, dict):
        return {k: _plain(v) for k, v in params.items()}
    return params


TEST_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def time_limit():
    """Fail a test (setup and teardown included) that runs past TEST_TIMEOUT_S instead of hanging the suite."""

    def expire(signum, frame):
        raise TimeoutError(f"test ran past {TEST_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def sample() -> str:
    return SAMPLE
