"""What one client address can cost, against a real server on both backends (issue 17, rows
1 and 3): the bytes its sessions hold, the frames each session sends, the messages all its
sessions send. Each test is an attack that succeeded before these budgets existed."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.exceptions import ConnectionClosed

from realtime import RealtimeApp, Session
from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend
from tests.integration.rawclient import RawSession, hello_ack, negotiate
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

KIB = 1024
MESSAGE = "x" * (32 * KIB)


async def deaf(session: Session) -> None:
    """A handler that never reads: what the clients send stays in its inbox."""
    await asyncio.Event().wait()


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return MemoryBackend()
    from realtime.backends.redis import RedisBackend

    url = request.getfixturevalue("redis_url")
    return RedisBackend(url, prefix=f"budget-{secrets.token_hex(4)}")


@contextlib.contextmanager
def serve(handler: Any, backend: Backend | None = None, **options: Any) -> Iterator[str]:
    app = RealtimeApp(handler, backend=backend, **options)
    with uvicorn_server(Starlette(routes=[Mount("/rt", app)], lifespan=app.lifespan)) as url:
        yield f"{url}/rt"


@contextlib.asynccontextmanager
async def client_at(address: str) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP from the loopback address ``address`` (127.0.0.0/8 all reaches the server)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        yield http


async def test_the_messages_one_address_sends_stop_at_its_budget(backend: Backend) -> None:
    budget = 512 * KIB
    with serve(deaf, backend, max_client_bytes=budget) as base:
        async with client_at("127.0.0.1") as http, client_at("127.0.0.2") as other:
            sessions = [await negotiate(http, base) for _ in range(8)]
            taken = 0
            refusals: list[dict[str, Any]] = []
            for session in sessions:  # 8 sessions x 4 messages of 32 KiB: 1 MiB wanted
                for seq in range(1, 5):
                    response = await session.post(http, "longpoll", [f"d{seq}:{MESSAGE}"])
                    if response.status_code == 200:
                        taken += len(MESSAGE)
                    else:
                        refusals.append({"status": response.status_code, **response.json()})
                        break
            print(f"taken from one address: {taken // KIB} KiB of {8 * 4 * 32} KiB sent")
            assert taken <= budget
            assert taken >= budget - len(MESSAGE)  # the budget, not something smaller, stops it
            assert refusals and {r["status"] for r in refusals} == {503}
            assert {r["code"] for r in refusals} == {1013}
            assert all("max_client_bytes" in r["error"] for r in refusals)
            # The refused sessions live on (their client resends later), and another
            # address is not touched by this one's budget.
            frames = await sessions[-1].poll(http, open=1, timeout=0.05)
            assert not any(frame[:1] == "c" for frame in frames), frames
            stranger = await negotiate(other, base)
            response = await stranger.post(other, "longpoll", [f"d1:{MESSAGE}"])
            assert response.status_code == 200, response.text


async def amplify(session: Session) -> None:
    """Each message answered eight times larger: what a busy room does to a deaf client."""
    async for message in session:
        await session.send(message * 8)


async def test_the_replies_one_address_leaves_unread_stop_at_its_budget(
    backend: Backend,
) -> None:
    budget = 250 * KIB  # seven replies and a bit: the eighth does not fit
    small = "y" * (4 * KIB)
    with serve(amplify, backend, max_client_bytes=budget, send_timeout=0.5) as base:
        async with client_at("127.0.0.1") as http:
            sessions = [await negotiate(http, base) for _ in range(6)]
            for session in sessions:  # 6 x 4 replies of 32 KiB, and nobody polls them
                for seq in range(1, 5):
                    response = await session.post(http, "longpoll", [f"d{seq}:{small}"])
                    if response.status_code != 200:  # the budget is full both ways
                        assert response.json()["code"] == 1013
                        break
            await asyncio.sleep(1.5)  # the replies that found no room gave up (send_timeout)
            replies = 0
            ends: list[str] = []
            for session in sessions:
                frames = await session.poll(http, open=1)
                replies += sum(len(f.split(":", 1)[1]) for f in frames if f[:1] == "d")
                ends += [f for f in frames if f[:1] == "c"]
            print(f"replies held for one address: {replies // KIB} KiB of {6 * 4 * 32} KiB")
            assert replies == 7 * 32 * KIB
            assert ends and all(f.startswith("c4005:") for f in ends), ends


async def test_every_frame_costs_rate_acks_pings_and_resends_too() -> None:
    with serve(echo, max_rate=100.0, max_burst=5, max_frame_rate=20.0) as base:
        async with client_at("127.0.0.1") as http:
            for flood in (["a0"] * 50, ["p"] * 50, ["d1:x"] + ["d1:x"] * 49):
                session = await negotiate(http, base)
                async with session.websocket() as websocket:
                    assert hello_ack(await websocket.recv()) == 0
                    for frame in flood:
                        with contextlib.suppress(ConnectionClosed):
                            await websocket.send(frame)
                    with pytest.raises(ConnectionClosed):
                        async with asyncio.timeout(10):
                            while True:
                                await websocket.recv()
                    assert websocket.close_code == 4006, flood[0]
                    assert websocket.close_reason == "more frames per second than max_frame_rate"


async def test_the_sessions_of_one_address_share_a_message_rate() -> None:
    options: dict[str, Any] = {"max_rate": 1000.0, "max_burst": 10, "max_client_rate": 10.0}
    with serve(echo, **options) as base:  # the address's burst: 4 x 10 = 40 messages
        async with client_at("127.0.0.1") as http, client_at("127.0.0.2") as other:
            sessions = [await negotiate(http, base) for _ in range(5)]
            statuses: list[int] = []
            for session in sessions:  # 5 sessions x 10 messages, each under its own limit
                response = await session.post(
                    http, "longpoll", [f"d{seq}:x" for seq in range(1, 11)]
                )
                statuses.append(response.status_code)
                if response.status_code != 200:
                    refusal = response.json()
                    assert refusal["code"] == 1013
                    assert "max_client_rate" in refusal["error"]
            assert statuses == [200] * 4 + [503]
            stranger = await negotiate(other, base)
            response = await stranger.post(other, "longpoll", ["d1:x"])
            assert response.status_code == 200
            # The refused session was slowed, not ended: what it resends later is taken,
            # once each, and echoed in order.
            await asyncio.sleep(1.1)
            last = sessions[-1]
            response = await last.post(http, "longpoll", [f"d{seq}:x" for seq in range(1, 11)])
            assert response.status_code == 200, response.text
            echoed = await poll_data(http, last, 10)
            assert echoed == list(range(1, 11))


async def poll_data(http: httpx.AsyncClient, session: RawSession, count: int) -> list[int]:
    """The numbers of the data frames long-polled until ``count`` arrived."""
    seqs: list[int] = []
    async with asyncio.timeout(10):
        while len(seqs) < count:
            frames = await session.poll(http, last=seqs[-1] if seqs else 0, open=1)
            seqs += [int(f[1:].split(":", 1)[0]) for f in frames if f[:1] == "d"]
    return seqs
