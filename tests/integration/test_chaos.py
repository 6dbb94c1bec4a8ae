"""Delivery under hostile networks, on every transport, through the fault-injecting proxy.

Each test drives the Python client against a real uvicorn while the proxy cuts, stalls or
blocks connections, and checks that both applications see every message exactly once and in
order.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

import realtime.client
from realtime.client import Connection
from realtime.testing import FAST_RETRY, FaultProxy
from tests.integration.app import verified
from tests.servers import port_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.chaos]

SEED = int(os.environ.get("REALTIME_CHAOS_SEED", "0")) or None


async def exchange(
    conn: Connection,
    count: int,
    timeout: float,
    pace: float = 0.0,
    received: list[str | bytes] | None = None,
) -> list[str | bytes]:
    """Send ``c0``.. while receiving ``s0``..; return what was received, ``done`` line last.
    ``pace``: seconds to pause after every 10 messages sent; ``received``: the list to
    receive into (others may watch it grow)."""

    async def send_all() -> None:
        for i in range(count):
            await conn.send(f"c{i}")
            if pace and i % 10 == 9:
                await asyncio.sleep(pace)

    sender = asyncio.create_task(send_all())
    try:
        async with asyncio.timeout(timeout):
            received = [] if received is None else received
            for _ in range(count + 1):
                received.append(await conn.receive())
            await sender
    finally:
        sender.cancel()
    return received


async def assert_verified(session_id: str, count: int) -> None:
    async with asyncio.timeout(10):
        while session_id not in verified:
            await asyncio.sleep(0.01)
    assert verified[session_id] == (count, [])


async def test_10000_messages_each_way_while_connections_are_cut_at_random(
    server: str, transport: str
) -> None:
    count, pace = 10_000, 0.002  # each direction paced over 2 s or more: 4 cuts at least
    async with FaultProxy(port_of(server), seed=SEED) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/verify?n={count}&pace={pace}"
        async with realtime.client.connect(url, transport=transport, **FAST_RETRY) as conn:
            proxy.cut_randomly(0.05, 0.5)
            received = await exchange(conn, count, timeout=180, pace=pace)
            proxy.stop_cutting()
            assert received == [*(f"s{i}" for i in range(count)), f"done {count} 0"]
            assert proxy.cuts >= 4 and conn.reconnects >= 4
            session_id = conn.session_id
        await assert_verified(session_id, count)


async def snapshot(server: str, mount: str, session_id: str) -> dict[str, object] | None:
    async with httpx.AsyncClient() as http:
        state: dict[str, object] | None = (
            await http.get(f"{server}/snapshot/{mount}/{session_id}")
        ).json()
        return state


async def test_half_dead_connection_is_detected_by_heartbeats_and_resumed(
    server: str, transport: str
) -> None:
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/heartbeat"
        async with realtime.client.connect(url, transport=transport, **FAST_RETRY) as conn:
            await conn.send("before")
            assert await asyncio.wait_for(conn.receive(), 10) == "before"
            assert proxy.stall() > 0  # open, but nothing passes any more
            await conn.send("after")  # goes into the dead connection first
            # ping_interval 0.2 + ping_timeout 0.3 (poll_timeout 0.5 + open_timeout 2 on
            # long-polling): the client notices, reconnects and resends.
            assert await asyncio.wait_for(conn.receive(), 10) == "after"
            assert conn.reconnects >= 1


async def test_server_detaches_a_half_dead_connection(server: str, transport: str) -> None:
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/heartbeat"
        async with realtime.client.connect(url, transport=transport, **FAST_RETRY) as conn:
            await conn.send("alive")
            assert await asyncio.wait_for(conn.receive(), 10) == "alive"
            proxy.stall()
            proxy.down = True  # the client cannot come back either
            async with asyncio.timeout(10):
                while (state := await snapshot(server, "heartbeat", conn.session_id)) is not None:
                    if state["status"] == 2:  # DETACHED: the server gave the connection up
                        break
                    await asyncio.sleep(0.05)
            assert state is not None and state["status"] == 2
            proxy.down = False


SWITCHES = {
    "websocket": (["websocket", "sse"], b"upgrade: websocket"),
    "sse": (["sse", "longpoll"], b"/sse?"),
    "longpoll": (["longpoll", "websocket"], b"/longpoll?"),
}


async def test_transport_switch_mid_stream_loses_nothing(server: str, transport: str) -> None:
    count = 3000
    transports, blocked = SWITCHES[transport]
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/verify?n={count}"
        async with realtime.client.connect(url, transports=transports, **FAST_RETRY) as conn:
            assert conn.transport == transport

            so_far: list[str | bytes] = []

            async def block_first_transport() -> None:
                while len(so_far) < count // 3:
                    await asyncio.sleep(0.005)
                proxy.reject = lambda request: blocked in request.lower()
                proxy.cut()

            blocker = asyncio.create_task(block_first_transport())
            received = await exchange(conn, count, timeout=120, received=so_far)
            await blocker
            assert received == [*(f"s{i}" for i in range(count)), f"done {count} 0"]
            assert conn.transport == transports[1]
            session_id = conn.session_id
        await assert_verified(session_id, count)
