"""What a flood of frames that carry no news costs the backend: nothing (issue 17, row 3).

A client may repeat acks it sent already, or resend messages the server has: the connection
drops them itself. Measured on Redis, where each would otherwise be a script run: the test
counts the commands redis-server executes during the flood.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio

from realtime.backends.base import Backend
from tests.integration.app import build_app
from tests.integration.rawclient import negotiate
from tests.servers import redis_server, uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.redis]

FLOOD = 5000


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this module's own: the commands counted are this app's, not those
    of the other tests' servers and backends that share the run's redis-server."""
    with redis_server(tmp_path_factory.mktemp("costs-redis")) as (url, _process):
        yield url


@pytest.fixture(scope="module")
def redis_site(own_redis: str) -> Iterator[str]:
    def backend() -> Backend:
        from realtime.backends.redis import RedisBackend

        return RedisBackend(own_redis, prefix=f"costs-{secrets.token_hex(4)}")

    with uvicorn_server(build_app(backend)) as url:
        yield url


async def commands(redis_url: str) -> int:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return sum(int(entry["calls"]) for entry in stats.values())


@pytest.mark.parametrize("flood", ["a1", "d1:again"], ids=["stale acks", "duplicates"])
async def test_frames_without_news_cost_the_backend_nothing(
    redis_site: str, own_redis: str, flood: str
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{redis_site}/echo")
        async with session.websocket() as websocket:
            assert str(await websocket.recv()).startswith("h")
            await websocket.send("d1:again")
            assert await websocket.recv() == "d1:again"
            await websocket.send("a1")
            before = await commands(own_redis)
            for _ in range(FLOOD):
                await websocket.send(flood)
            await websocket.send("d2:after")  # still served, in order, once
            async with asyncio.timeout(10):
                while (frame := await websocket.recv()) != "d2:after":
                    assert not str(frame).startswith("d"), frame
            spent = await commands(own_redis) - before
            print(f"{flood}: {spent} Redis commands")
            await websocket.close(1001)
    # The flood would be FLOOD script runs and more; the message after it and the
    # connection's own traffic (heartbeat, the ack owed) take a few dozen commands.
    assert spent < FLOOD // 20, spent
