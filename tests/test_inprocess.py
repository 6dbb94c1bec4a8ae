"""realtime.testing.connect: a client of an app in the same process, on every transport, with
the guarantees of the network one (tests/integration proves those over a real uvicorn)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from realtime import RealtimeApp, Session, SessionClosed
from realtime.testing import connect
from realtime.testing.inprocess import Clients

pytestmark = pytest.mark.anyio
pytest_plugins = ["realtime.testing.plugin"]

TRANSPORTS = ["websocket", "sse", "longpoll"]


async def echo(session: Session) -> None:
    async for message in session:
        if message == "bye":
            await session.close(4100, "asked to")
            return
        await session.send(message)


def site() -> Starlette:
    # A small window, so that acks must flow both ways; no rate limit, as in-process the
    # client sends faster than the default 200 messages a second.
    realtime = RealtimeApp(echo, max_queue=8, max_rate=None)
    return Starlette(routes=[Mount("/rt", realtime)], lifespan=realtime.lifespan)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_transport_echoes_in_order_in_process(transport: str) -> None:
    async with connect(site(), "/rt", transport=transport) as conn:
        assert conn.transport == transport
        messages = [f"m{i}" for i in range(200)] + [b"\x00\xffbinary"]

        async def send_all() -> None:
            for message in messages:
                await conn.send(message)

        sender = asyncio.create_task(send_all())
        async with asyncio.timeout(20):
            received = [await conn.receive() for _ in messages]
        await sender
        assert received == messages
        await conn.send("bye")
        with pytest.raises(SessionClosed) as closed:
            async with asyncio.timeout(10):
                await conn.receive()
        assert (closed.value.code, closed.value.reason) == (4100, "asked to")


async def test_the_client_takes_the_transports_the_app_offers_in_process() -> None:
    realtime = RealtimeApp(echo, transports=("sse", "longpoll"))
    async with connect(realtime, "", transports=("websocket", "sse", "longpoll")) as conn:
        assert conn.transport == "sse"  # the app offers no WebSocket: negotiation says so
        await conn.send("hi")
        assert await asyncio.wait_for(conn.receive(), 10) == "hi"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_fixture_gives_clients(realtime_client: Clients, transport: str) -> None:
    async with realtime_client(site(), "/rt", transport=transport) as conn:
        await conn.send("via the fixture")
        assert await asyncio.wait_for(conn.receive(), 10) == "via the fixture"


async def test_clients_left_open_are_closed_at_the_end() -> None:
    ended: list[int] = []

    async def handler(session: Session) -> None:
        try:
            while True:
                await session.send(await session.receive())
        except SessionClosed as exc:
            ended.append(exc.code)
            raise

    realtime = RealtimeApp(handler)
    clients = Clients()
    conn = await clients(realtime, "").__aenter__()  # and never left
    await conn.send("left open")
    assert await asyncio.wait_for(conn.receive(), 10) == "left open"
    await clients.aclose()
    assert ended == [1000]
    assert conn.closed


async def test_the_app_sees_request_headers_as_asgi_has_them() -> None:
    """Lower-case names, as from a real server: what the authentication hook reads."""

    async def authenticate(conn: HTTPConnection) -> object:
        return {"credential": conn.headers.get("authorization")}

    async def whoami(session: Session) -> None:
        await session.send(str(session.user))

    realtime = RealtimeApp(whoami, authenticate=authenticate)
    app = Starlette(routes=[Mount("/rt", realtime)], lifespan=realtime.lifespan)
    async with connect(app, "/rt", headers={"Authorization": "Bearer x"}) as conn:
        assert await conn.receive() == "{'credential': 'Bearer x'}"
