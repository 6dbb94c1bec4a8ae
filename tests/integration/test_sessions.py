"""Session lifetime on every transport: expiry, resuming elsewhere, sending from outside."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import realtime.client
from realtime import SessionClosedError
from realtime.testing import FaultProxy
from tests.integration.app import closed_with
from tests.servers import port_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def wait_until_closed(session_id: str, timeout: float = 10) -> tuple[int, str]:
    async with asyncio.timeout(timeout):
        while session_id not in closed_with:
            await asyncio.sleep(0.02)
    return closed_with[session_id]


async def test_detached_session_expires_with_4000_and_cannot_be_resumed(
    server: str, transport: str
) -> None:
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/short"
        conn = await realtime.client.connect(
            url, transport=transport, backoff_initial=0.05, backoff_max=0.2
        )
        try:
            await conn.send("ping")
            assert await asyncio.wait_for(conn.receive(), 10) == "ping"
            proxy.down = True
            proxy.cut()
            code, _ = await wait_until_closed(conn.session_id)  # session_ttl is 0.5 s
            assert code == 4000
            proxy.down = False
            with pytest.raises(SessionClosedError) as info:
                await asyncio.wait_for(conn.receive(), 10)
            assert info.value.code == 4000  # told, never a silent new session
        finally:
            await conn.close()


async def test_lost_session_starts_a_new_one_and_tells_the_app(server: str, transport: str) -> None:
    resets: list[tuple[int, str]] = []
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/short"
        async with realtime.client.connect(
            url,
            transport=transport,
            backoff_initial=0.05,
            backoff_max=0.2,
            on_reset=lambda code, reason: resets.append((code, reason)),
        ) as conn:
            first = conn.session_id
            proxy.down = True
            proxy.cut()
            await wait_until_closed(first)
            proxy.down = False
            async with asyncio.timeout(10):
                while conn.session_id == first:
                    await asyncio.sleep(0.02)
            assert [code for code, _ in resets] == [4000]
            await conn.send("on the new session")
            assert await asyncio.wait_for(conn.receive(), 10) == "on the new session"


async def test_resume_on_another_transport_when_websocket_gets_blocked(server: str) -> None:
    count = 600
    async with FaultProxy(port_of(server)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/echo"
        async with realtime.client.connect(
            url, transports=["websocket", "longpoll"], backoff_initial=0.05
        ) as conn:
            assert conn.transport == "websocket"

            async def send_all() -> None:
                for i in range(count):
                    await conn.send(f"m{i}")
                    if i == count // 3:
                        proxy.reject_websockets = True
                        proxy.cut()
                    if i % 20 == 0:
                        await asyncio.sleep(0.005)

            sender = asyncio.create_task(send_all())
            received = [await asyncio.wait_for(conn.receive(), 20) for _ in range(count)]
            await sender
            assert received == [f"m{i}" for i in range(count)]
            assert str(conn.transport) == "longpoll"  # str(): mypy narrowed it to "websocket"
            assert "websocket" in {name for name, _ in conn.failures}


async def test_send_to_one_session_from_outside(server: str, transport: str) -> None:
    async with realtime.client.connect(f"{server}/commands", transport=transport) as conn:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{server}/send?sid={conn.session_id}", content="direct")
            assert answer.json() == {"queued": True}
            unknown = await http.post(f"{server}/send?sid=unknown", content="lost")
            assert unknown.json() == {"queued": False}
        assert await asyncio.wait_for(conn.receive(), 10) == "direct"
