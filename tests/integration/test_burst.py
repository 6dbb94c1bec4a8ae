"""A burst published back to back reaches every connection message by message, on a real
uvicorn, in memory: each message is written to every streaming connection before the next
is queued, and every client gets the whole burst, in order, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

import realtime.client
from tests.integration.app import build_app
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def memory_server() -> Iterator[str]:
    with uvicorn_server(build_app()) as url:
        yield url


async def test_each_message_of_a_burst_is_written_before_the_next_is_queued(
    memory_server: str,
) -> None:
    count = 200
    conns = [
        await realtime.client.connect(f"{memory_server}/commands", transport=transport)
        for transport in ["websocket", "sse", "longpoll"] * 2
    ]
    try:
        for conn in conns:
            await conn.send("join burst")
            assert await asyncio.wait_for(conn.receive(), 10) == "joined burst"
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(f"{memory_server}/burst?room=burst&count={count}")
        # Four streaming connections (two WebSocket, two SSE), none behind after any publish.
        assert answer.json() == {"streams": [4] * count, "behind": [0] * count}
        for conn in conns:
            received = [await asyncio.wait_for(conn.receive(), 10) for _ in range(count)]
            assert received == [f"b{i}" for i in range(count)]
    finally:
        await asyncio.gather(*(conn.close() for conn in conns))
