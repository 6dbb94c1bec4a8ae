"""The contract: the Session API behaves the same on every transport.

Every test runs against a real uvicorn on 127.0.0.1 with the Python client, once per
transport (the ``transport`` fixture), unless it mixes transports on purpose.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

import realtime.client
from realtime import SessionClosedError
from realtime.client import Connection
from realtime.testing import FaultProxy
from tests.integration.app import closed_with

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MiB = 2**20


def connect(
    base: str, transport: str, mount: str = "echo", **options: object
) -> realtime.client.connect:
    return realtime.client.connect(f"{base}/{mount}", transport=transport, **options)


async def receive_n(conn: Connection, count: int, timeout: float = 30) -> list[str | bytes]:
    async def take() -> list[str | bytes]:
        return [await conn.receive() for _ in range(count)]

    return await asyncio.wait_for(take(), timeout)


@pytest.mark.parametrize(
    "message",
    [
        "",
        "x",
        "héllo wörld ✓ 日本語 🎉",
        "line one\nline two\r\nline three\rend",
        "d1:looks like a frame",
        '"starts with a quote',
        "x" * MiB,
        b"",
        b"\x00",
        bytes(range(256)) * 4,
        b"\xff" * MiB,
    ],
    ids=[
        "empty",
        "1-char",
        "non-ascii",
        "line-breaks",
        "frame-like",
        "quote",
        "1MiB-text",
        "empty-bytes",
        "1-byte",
        "all-bytes",
        "1MiB-bytes",
    ],
)
async def test_echo(server: str, transport: str, message: str | bytes) -> None:
    async with connect(server, transport) as conn:
        assert conn.transport == transport
        await conn.send(message)
        assert await receive_n(conn, 1) == [message]


async def test_order_of_10000_messages_each_way(server: str, transport: str) -> None:
    count = 10_000
    async with connect(server, transport) as conn:

        async def send_all() -> None:
            for i in range(count):
                await conn.send(f"m{i}")

        sender = asyncio.create_task(send_all())
        received = await receive_n(conn, count, timeout=60)
        await sender
        assert received == [f"m{i}" for i in range(count)]


async def test_server_pushes_without_a_prior_message(server: str, transport: str) -> None:
    async with connect(server, transport, mount="push") as conn:
        assert await receive_n(conn, 1) == [f"welcome {conn.session_id}"]


async def test_negotiation_request_is_visible_to_the_handler(server: str, transport: str) -> None:
    url = f"{server}/commands/?q=question"
    async with realtime.client.connect(
        url, transport=transport, headers={"x-test": "header"}
    ) as conn:
        await conn.send("info")
        await conn.send("transport")
        assert await receive_n(conn, 2) == ["header question", transport]


async def test_room_broadcast_reaches_50_sessions_over_all_transports(server: str) -> None:
    transports = itertools.cycle(["websocket", "sse", "longpoll"])
    connections = [await connect(server, next(transports), mount="commands") for _ in range(50)]
    try:
        for conn in connections:
            await conn.send("join news")
        for conn in connections:
            assert await receive_n(conn, 1) == ["joined news"]
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{server}/publish?room=news", content="extra, extra")
        assert answer.json() == {"queued": 50}
        for conn in connections:
            assert await receive_n(conn, 1) == ["extra, extra"]
        for conn in connections:  # exactly once: nothing else is waiting
            await conn.send("transport")
            assert await receive_n(conn, 1) == [conn.transport]
        assert {conn.transport for conn in connections} == {"websocket", "sse", "longpoll"}
    finally:
        await asyncio.gather(*(conn.close() for conn in connections))


@pytest.mark.parametrize(("code", "reason"), [(1000, "done"), (4321, "app says bye")])
async def test_server_closes_with_a_code(
    server: str, transport: str, code: int, reason: str
) -> None:
    async with connect(server, transport, mount="commands") as conn:
        await conn.send("stream 3")
        await conn.send(f"close {code} {reason}")
        assert await receive_n(conn, 3) == ["0", "1", "2"]  # everything sent before the close
        if code == 1000:
            assert [message async for message in conn] == []  # a normal close ends the loop quietly
        else:
            with pytest.raises(SessionClosedError) as info:
                await conn.receive()
            assert (info.value.code, info.value.reason) == (code, reason)
        assert (conn.close_code, conn.close_reason) == (code, reason)


async def test_client_closes_with_a_code(server: str, transport: str) -> None:
    async with connect(server, transport) as conn:
        await conn.send("last words")
        assert await receive_n(conn, 1) == ["last words"]
        await conn.close(4567, "client says bye")
        session_id = conn.session_id
    assert conn.close_code == 4567
    for _ in range(200):
        if session_id in closed_with:
            break
        await asyncio.sleep(0.01)
    assert closed_with[session_id] == (4567, "client says bye")


@pytest.mark.expected_errors  # the crash is logged with its traceback
async def test_handler_crash_closes_with_internal_error(server: str, transport: str) -> None:
    async with connect(server, transport, mount="commands") as conn:
        await conn.send("crash")
        with pytest.raises(SessionClosedError) as info:
            await receive_n(conn, 1)
        assert info.value.code == 1011


async def test_handler_cannot_send_an_oversize_message(server: str, transport: str) -> None:
    async with connect(server, transport, mount="commands") as conn:
        await conn.send("too-big")
        assert await receive_n(conn, 1) == ["refused"]


async def test_resume_after_dropped_connections_loses_and_doubles_nothing(
    server: str, transport: str
) -> None:
    port = int(server.rsplit(":", 1)[1])
    count = 1000
    async with FaultProxy(port) as proxy:
        async with connect(
            f"http://127.0.0.1:{proxy.port}", transport, backoff_initial=0.05
        ) as conn:

            async def send_all() -> None:
                for i in range(count):
                    await conn.send(f"m{i}")
                    if i % 50 == 0:
                        await asyncio.sleep(0.01)

            async def cut_three_times() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.1)
                    proxy.cut()

            sender = asyncio.create_task(send_all())
            cutter = asyncio.create_task(cut_three_times())
            received = await receive_n(conn, count, timeout=60)
            await asyncio.gather(sender, cutter)
            assert received == [f"m{i}" for i in range(count)]
            assert proxy.cuts >= 3
            assert conn.reconnects >= 1
            assert conn.transport == transport
