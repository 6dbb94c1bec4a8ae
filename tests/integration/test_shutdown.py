"""Graceful shutdown: clients are told to reconnect, and the server does not hang on streams."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import realtime.client
from realtime import RealtimeApp
from tests.integration.app import echo
from tests.servers import free_port, uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def fresh_app() -> Starlette:
    """A new app per server: a RealtimeApp belongs to one event loop."""
    realtime = RealtimeApp(echo)
    return Starlette(routes=[Mount("/echo", realtime)], lifespan=realtime.lifespan)


async def test_shutdown_says_reconnect_and_a_restarted_server_gets_a_new_session(
    transport: str,
) -> None:
    port = free_port()
    resets: list[int] = []
    options = {
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "on_reset": lambda code, _: resets.append(code),
    }
    running = contextlib.ExitStack()
    url = running.enter_context(uvicorn_server(fresh_app(), port=port))
    conn = await realtime.client.connect(f"{url}/echo", transport=transport, **options)
    await conn.send("before")
    assert await asyncio.wait_for(conn.receive(), 10) == "before"
    first = conn.session_id
    # Stop the server from another thread, so that this loop's client keeps answering; the
    # server must stop in time although a stream is open (uvicorn_server checks).
    await asyncio.to_thread(running.close)
    try:
        async with asyncio.timeout(10):
            while conn.last_disconnect is None:
                await asyncio.sleep(0.01)
        assert conn.last_disconnect[0] == 1012
        with uvicorn_server(fresh_app(), port=port):
            # The in-memory session died with the old process: the client is told, and
            # carries on with a new session.
            async with asyncio.timeout(10):
                while conn.session_id == first:
                    await asyncio.sleep(0.02)
            assert resets == [4000]
            await conn.send("after")
            assert await asyncio.wait_for(conn.receive(), 10) == "after"
            await conn.close()
            assert conn.close_code == 1000
    finally:
        await conn.close()
