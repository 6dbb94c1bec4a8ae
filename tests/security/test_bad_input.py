"""Bad input gets its documented status or close code, and never disturbs other sessions.

Each case runs on a fresh session while a bystander session on the same server exchanges a
message before and after: the bystander must not notice anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

import realtime.client
from realtime.client import Connection
from tests.integration.rawclient import hello_ack, negotiate

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def bystander(server: str) -> AsyncIterator[Connection]:
    async with realtime.client.connect(f"{server}/open", transport="websocket") as conn:
        await conn.send("before")
        assert await asyncio.wait_for(conn.receive(), 10) == "before"
        yield conn
        await conn.send("after")  # the bad input next door changed nothing here
        assert await asyncio.wait_for(conn.receive(), 10) == "after"


# (name, POST body, expected status, expected close code)
POST_CASES = [
    ("malformed JSON", b"[", 400, 1002),
    ("not an array", b'{"frames": []}', 400, 1002),
    ("wrong types", b"[1, null, true]", 400, 1002),
    ("invalid UTF-8", b'["d1:\xff\xfe"]', 400, 1007),
    ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, 400, 1002),
    ("huge JSON", json.dumps(["q"] * 500_000).encode(), 413, 1009),
    ("unknown frame kind", b'["z1:x"]', 400, 1002),
    ("negative sequence number", b'["d-1:x"]', 400, 1002),
    ("huge sequence number", b'["d99999999999999999999:x"]', 400, 1002),
    ("sequence gap", b'["d5:skipping ahead"]', 400, 1002),
    ("bad base64", b'["b1:not base64!"]', 400, 1007),
    ("lone surrogate", b'["d1:\\ud800"]', 400, 1007),
    ("ack of a message never sent", b'["a99"]', 400, 1002),
    ("a server-only frame", b'["h{\\"ack\\":0}"]', 400, 1002),
    ("an invalid close code", b'["c1005:reserved"]', 400, 1002),
]


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
@pytest.mark.parametrize(
    ("name", "body", "status", "code"), POST_CASES, ids=[case[0] for case in POST_CASES]
)
async def test_bad_posts(
    server: str,
    bystander: Connection,
    transport: str,
    name: str,
    body: bytes,
    status: int,
    code: int,
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
        response = await http.post(
            session.url(transport),
            headers={"x-realtime-token": session.token, "content-type": "application/json"},
            content=body,
        )
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert (await session.poll(http, open=1))[-1].startswith(f"c{code}:")  # it ended


# (name, WebSocket message, expected close code)
WEBSOCKET_CASES: list[tuple[str, str | bytes, int]] = [
    ("garbage text", "nonsense", 1002),
    ("garbage binary", b"\x00\x01\x02", 1002),
    ("binary without a sequence number", b"bx:data", 1002),
    ("negative sequence number", "d-1:x", 1002),
    ("sequence gap", "d7:skipping ahead", 1002),
    ("bad base64", "b1:%%%", 1007),
    ("ack of a message never sent", "a42", 1002),
    ("a server-only frame", "r4001:x", 1002),
    ("an invalid close code", "c999:x", 1002),
]


@pytest.mark.parametrize(
    ("name", "message", "code"), WEBSOCKET_CASES, ids=[case[0] for case in WEBSOCKET_CASES]
)
async def test_bad_websocket_messages(
    server: str, bystander: Connection, name: str, message: str | bytes, code: int
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
    async with session.websocket() as websocket:
        assert hello_ack(await websocket.recv()) == 0
        await websocket.send(message)
        frames: list[str | bytes] = []
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    frames.append(await websocket.recv())
        assert frames and isinstance(frames[-1], str) and frames[-1].startswith(f"c{code}:")
        assert websocket.close_code == code


async def test_a_replayed_post_is_delivered_once(server: str, bystander: Connection) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
        await session.poll(http, open=1)
        for _ in range(3):  # the same POST, again and again (a retry, or an attacker)
            response = await session.post(http, "longpoll", ["d1:once"])
            assert response.status_code == 200
        await session.post(http, "longpoll", ["d2:twice?"])
        frames: list[str] = []
        async with asyncio.timeout(10):
            while "d2:twice?" not in frames:
                frames += await session.poll(http, last=len([f for f in frames if f[0] == "d"]))
        assert [f for f in frames if f.startswith("d")] == ["d1:once", "d2:twice?"]
