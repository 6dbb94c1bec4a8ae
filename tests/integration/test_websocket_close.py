"""How a plain WebSocket client ends a session, or only its connection (PROTOCOL.md 5.1)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.app import closed_with
from tests.integration.rawclient import negotiate

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def closed_code(session_id: str) -> tuple[int, str]:
    async with asyncio.timeout(10):
        while session_id not in closed_with:
            await asyncio.sleep(0.01)
    return closed_with[session_id]


async def test_closing_the_websocket_with_1000_ends_the_session(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        async with session.websocket() as websocket:
            assert str(await websocket.recv()).startswith("h")
            await websocket.send("d1:hi")
            assert await websocket.recv() == "d1:hi"
            await websocket.close(1000, "done here")
        assert await closed_code(session.sid) == (1000, "done here")
        # A resume finds it over: the close, then the socket closes with its code.
        async with session.websocket(last=1) as websocket:
            frames = [frame async for frame in websocket]
        assert frames[-1] == "c1000:done here"


@pytest.mark.parametrize("code", [1001, 4500])
async def test_closing_the_websocket_otherwise_leaves_the_session_to_resume(
    server: str, code: int
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        async with session.websocket() as websocket:
            assert str(await websocket.recv()).startswith("h")
            await websocket.send("d1:before")
            assert await websocket.recv() == "d1:before"
            await websocket.close(code, "going away")
        async with session.websocket(last=1) as websocket:
            assert await websocket.recv() == 'h{"ack":1}'
            await websocket.send("d2:after")
            assert await websocket.recv() == "d2:after"
            assert session.sid not in closed_with
            await websocket.close(4500, "leaving this one too")
