"""An app's own tests with realtime.testing (docs/how-to/testing.md): the app keeps its
promises when the network between it and its clients misbehaves."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import realtime.client
from realtime import RealtimeApp, Session
from realtime.testing import FAST_RETRY, FaultProxy, live_server


async def next_number(session: Session) -> None:
    """The app under test: it answers each number with the next one."""
    async for message in session:
        await session.send(str(int(message) + 1))


rt = RealtimeApp(next_number)
app = Starlette(routes=[Mount("/realtime", rt)], lifespan=rt.lifespan)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # live_server and FaultProxy run on asyncio


async def test_every_answer_comes_once_in_order_across_cuts() -> None:
    async with live_server(app) as url, FaultProxy(url) as proxy:
        async with realtime.client.connect(proxy.url("/realtime"), **FAST_RETRY) as conn:
            for n in range(50):
                if n % 10 == 5:
                    proxy.cut()  # every open connection, both ways
                await conn.send(str(n))
                assert await asyncio.wait_for(conn.receive(), 10) == str(n + 1)
    assert proxy.cuts >= 5


async def test_a_proxy_that_drops_websocket_upgrades() -> None:
    async with live_server(app) as url, FaultProxy(url) as proxy:
        proxy.reject_websockets = True
        async with realtime.client.connect(proxy.url("/realtime"), **FAST_RETRY) as conn:
            await conn.send("1")
            assert await asyncio.wait_for(conn.receive(), 10) == "2"
            assert conn.transport == "sse"  # the client fell back by itself


async def test_a_slow_network_on_long_polling() -> None:
    async with live_server(app) as url, FaultProxy(url) as proxy:
        proxy.delay = 0.01  # seconds per chunk, both ways
        proxy.bandwidth = 20_000  # bytes per second
        url = proxy.url("/realtime")
        async with realtime.client.connect(url, transport="longpoll") as conn:
            for n in range(10):
                await conn.send(str(n))
            answers = [await asyncio.wait_for(conn.receive(), 10) for _ in range(10)]
    assert answers == [str(n + 1) for n in range(10)]
