"""Slow consumers and clients away too long, on every transport: memory stays bounded, the
session ends with its own close code, and nobody else is slowed down."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

import realtime.client
from realtime.testing import FAST_RETRY, FaultProxy
from tests.integration.rawclient import negotiate
from tests.servers import port_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def close_code(server: str, mount: str, session_id: str, timeout: float = 10) -> object:
    """The session's close code as the server sees it, once it has one."""
    async with httpx.AsyncClient() as http, asyncio.timeout(timeout):
        while True:
            state = (await http.get(f"{server}/snapshot/{mount}/{session_id}")).json()
            if state is None or state["close_code"] is not None:
                return None if state is None else state["close_code"]
            await asyncio.sleep(0.02)


async def test_one_stalled_client_does_not_slow_the_others(server: str, transport: str) -> None:
    wave, waves = 500, 4  # below every window (max_queue 1024); four add up to more
    transports = itertools.cycle(["websocket", "sse", "longpoll"])
    fast = [
        await realtime.client.connect(f"{server}/commands", transport=next(transports))
        for _ in range(3)
    ]
    async with FaultProxy(port_of(server)) as proxy:
        slow = await realtime.client.connect(
            f"http://127.0.0.1:{proxy.port}/commands", transport=transport, **FAST_RETRY
        )
        try:
            for conn in [*fast, slow]:
                await conn.send("join flood")
                assert await asyncio.wait_for(conn.receive(), 10) == "joined flood"
            proxy.stall()
            received: list[list[str | bytes]] = [[] for _ in fast]
            queued: list[int] = []
            async with httpx.AsyncClient(timeout=30) as http:
                for first in range(0, wave * waves, wave):
                    url = f"{server}/flood?room=flood&count={wave}&first={first}"
                    queued += (await http.post(url)).json()["queued"]
                    # The fast clients read each wave before the next: only the stalled one
                    # falls behind by more than its window.
                    for conn, messages in zip(fast, received, strict=True):
                        messages += [
                            await asyncio.wait_for(conn.receive(), 10) for _ in range(wave)
                        ]
            # Publishing never waited for the stalled client: once its window was full it was
            # closed (4005) and dropped from the room, and the others got every message.
            assert queued[0] == 4 and queued[-1] == 3
            assert await close_code(server, "commands", slow.session_id) == 4005
            assert received == [[f"f{i}" for i in range(wave * waves)]] * len(fast)
        finally:
            await asyncio.gather(*(conn.close() for conn in fast))
            proxy.down = True
            await slow.close()


async def test_send_timeout_ends_the_session_of_a_stalled_client(
    server: str, transport: str
) -> None:
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/slow"  # max_queue 100, send_timeout 0.3 s
        conn = await realtime.client.connect(url, transport=transport, **FAST_RETRY)
        try:
            await conn.send("stream 1000")
            assert await asyncio.wait_for(conn.receive(), 10) == "0"
            proxy.stall()
            proxy.down = True
            assert await close_code(server, "slow", conn.session_id) == 4005
        finally:
            await conn.close()


async def test_a_client_away_too_long_gets_a_new_session_and_is_told(
    server: str, transport: str
) -> None:
    resets: list[int] = []
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/commands"
        async with realtime.client.connect(
            url, transport=transport, on_reset=lambda code, _: resets.append(code), **FAST_RETRY
        ) as conn:
            first = conn.session_id
            await conn.send("join news")
            assert await asyncio.wait_for(conn.receive(), 10) == "joined news"
            proxy.down = True
            proxy.cut()
            async with httpx.AsyncClient(timeout=30) as http:
                await http.post(f"{server}/flood?room=news&count=1100")  # past the window
            assert await close_code(server, "commands", first) == 4005
            proxy.down = False
            async with asyncio.timeout(10):
                while conn.session_id == first:
                    await asyncio.sleep(0.02)
            assert resets == [4005]
            # Nothing is skipped silently: every message queued before the overflow arrives
            # (the window's worth: 1024, less "joined news" if its ack was cut off), then the
            # client is told, and the new session works.
            await conn.send("transport")
            received = []
            async with asyncio.timeout(10):
                while (message := await conn.receive()) != transport:
                    received.append(message)
            assert received == [f"f{i}" for i in range(len(received))]
            assert len(received) in (1023, 1024)


async def test_resume_from_before_the_acknowledged_messages_is_a_replay_gap(
    server: str, transport: str
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/commands")
        assert await session.poll(http, open=1)  # starts the handler
        await session.post(http, "longpoll", ["d1:stream 5"])
        frames: list[str] = []
        async with asyncio.timeout(10):
            while len([f for f in frames if f.startswith("d")]) < 5:
                frames += await session.poll(http, last=len([f for f in frames if f[0] == "d"]))
        await session.poll(http, last=5, open=1)  # acknowledges all five
        if transport == "websocket":
            async with session.websocket(last=2) as websocket:
                reply = await asyncio.wait_for(websocket.recv(), 10)
        elif transport == "sse":
            ticket = await session.ticket(http)
            async with http.stream("GET", session.url("sse", ticket=ticket, last=2)) as stream:
                reply = ""
                async for line in stream.aiter_lines():
                    if line.startswith("data: c"):
                        reply = line.removeprefix("data: ")
                        break
        else:
            reply = (await session.poll(http, last=2))[-1]
        assert isinstance(reply, str) and reply.startswith("c4004:")
        assert await close_code(server, "commands", session.sid) == 4004
