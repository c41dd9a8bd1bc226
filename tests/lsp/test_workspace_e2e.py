"""Settings layers (initializationOptions, didChangeConfiguration, instant-edit.toml reloaded live) and the
context index following files changed on disk outside the editor."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio


async def settings(session) -> dict:
    return await session.client.protocol.send_request_async("instantEdit/settings", {})


async def _watching(session) -> bool:
    return (await settings(session)).indexWatching


async def until(check, timeout: float = 30):
    async def poll():
        while not (value := await check()):
            await asyncio.sleep(0.1)
        return value

    return await asyncio.wait_for(poll(), timeout)


async def test_settings_from_options_configuration_and_toml(session):
    (session.root / "instant-edit.toml").write_text("threshold = 0.5\n")
    await session.start(options={"maxSteps": 7, "threshold": 0.8, "bogusKey": 1})
    current = (await settings(session)).settings
    assert current.maxSteps == 7 and current.threshold == 0.5  # the workspace file wins over the client
    assert any("bogusKey" in m.message for m in session.client.log_messages)
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"instantEdit": {"maxSteps": 3, "inlineCompletion": False}})
    )

    async def changed():
        s = (await settings(session)).settings
        return s.maxSteps == 3 and not s.inlineCompletion

    assert await until(changed)
    assert await until(lambda: _watching(session))
    (session.root / "instant-edit.toml").write_text("threshold = 0.7\ncontext_tokens = 256\n")

    async def reloaded():
        s = (await settings(session)).settings
        return s.threshold == 0.7 and s.contextTokens == 256

    assert await until(reloaded)
    await session.wait_status("ready")
    statuses = [s["state"] for s in session.statuses]
    assert statuses.count("loading") >= 2  # a new context size reloads the model


async def test_file_changed_on_disk_shows_up_in_the_index(session):
    (session.root / "util.py").write_text("def existing_helper(x):\n    return x\n")
    await session.start()

    async def lookup(name: str):
        return await session.client.protocol.send_request_async("instantEdit/indexLookup", {"name": name})

    async def watching():
        return (await settings(session)).indexWatching

    assert await until(watching)  # the tree is indexed once the watcher runs
    assert await lookup("existing_helper")
    (session.root / "pkg").mkdir()
    (session.root / "pkg" / "gen.py").write_text("def frobnicate(values):\n    return sorted(values)\n")
    found = await until(lambda: lookup("frobnicate"))
    assert found[0]["path"].endswith("gen.py") and "sorted" in found[0]["snippet"]
    (session.root / "pkg" / "gen.py").unlink()

    async def gone():
        return not await lookup("frobnicate")

    assert await until(gone)


async def test_settings_pulled_with_workspace_configuration(session):
    """A didChangeConfiguration without settings makes the server ask for section instantEdit."""
    session.client.set_configuration({"maxSteps": 5, "threshold": 0.6}, section="instantEdit")
    await session.start()
    await session.client.wait_for_notification("instantEdit/status")
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))

    async def pulled():
        s = (await settings(session)).settings
        return s.maxSteps == 5 and s.threshold == 0.6

    assert await until(pulled)
