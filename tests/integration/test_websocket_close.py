"""How a plain WebSocket client ends a session, or only its connection (PROTOCOL.md 5.1)."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest

from tests.integration.app import closed_with
from tests.integration.rawclient import hello_ack, negotiate

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
            assert hello_ack(await websocket.recv()) == 1
            await websocket.send("d2:after")
            assert await websocket.recv() == "d2:after"
            assert session.sid not in closed_with
            await websocket.close(4500, "leaving this one too")


async def test_a_text_frame_that_is_not_utf8_ends_the_session_with_1007(server: str) -> None:
    # The server's WebSocket layer (uvicorn) refuses it before the session sees it, and
    # closes the socket with 1007; the session ends with that code too (PROTOCOL.md 3).
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        host, port = server.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {session.url('websocket').removeprefix(server)} "
            f"HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"X-Realtime-Token: {session.token}\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        payload, mask = b"d1:\xff\xfe", os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # a masked text frame
        await writer.drain()
        async with asyncio.timeout(10):
            while not reader.at_eof():
                await reader.read(4096)
        writer.close()
        assert await closed_code(session.sid) == (1007, "invalid data")
        frames = await session.poll(http, open=1)
        assert frames[-1] == "c1007:invalid data"
