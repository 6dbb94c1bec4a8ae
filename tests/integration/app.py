"""The app the contract tests run in a real uvicorn: small handlers under separate mounts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from realtime import Backend, PayloadTooBig, RealtimeApp, Session, SessionClosed

closed_with: dict[str, tuple[int, str]] = {}
"""How each session's handler saw its session end, by session id (read by the tests)."""


async def echo(session: Session) -> None:
    try:
        while True:
            await session.send(await session.receive())
    except SessionClosed as exc:
        closed_with[session.id] = (exc.code, exc.reason)


async def push(session: Session) -> None:
    """Sends first, without waiting for the client, then echoes."""
    await session.send(f"welcome {session.id}")
    await echo(session)


async def commands(session: Session) -> None:
    """Runs one command per text message: ``name arguments``."""
    async for message in session:
        assert isinstance(message, str)
        name, _, argument = message.partition(" ")
        if name == "close":
            code, _, reason = argument.partition(" ")
            await session.close(int(code), reason)
            return
        if name == "join":
            await session.join(argument)
            await session.send(f"joined {argument}")
        elif name == "stream":
            count, _, pause = argument.partition(" ")
            for i in range(int(count)):
                await session.send(str(i))
                if pause:
                    await asyncio.sleep(float(pause))
        elif name == "transport":
            await session.send(str(session.transport))
        elif name == "too-big":
            try:
                await session.send("x" * (2**20 + 1))
            except PayloadTooBig:
                await session.send("refused")
        elif name == "headers":
            await session.send(json.dumps(dict(session.headers)))
        elif name == "info":
            await session.send(f"{session.headers.get('x-test')} {session.query_params.get('q')}")
        elif name == "crash":
            raise RuntimeError("handler crashed on purpose")


verified: dict[str, tuple[int, list[str]]] = {}
"""What each ``verify`` handler received: (count, out-of-order messages), by session id."""


async def verify(session: Session) -> None:
    """Streams ``s0``..``s{n-1}`` while it checks that ``c0``..``c{n-1}`` arrive, once each,
    in order; then reports ``done <count> <errors>``. Query parameters: ``n``, and ``pace``,
    seconds to pause after every 10 messages (to spread the stream over time)."""
    count = int(session.query_params["n"])
    pace = float(session.query_params.get("pace", 0))

    async def produce() -> None:
        for i in range(count):
            await session.send(f"s{i}")
            if pace and i % 10 == 9:
                await asyncio.sleep(pace)

    producer = asyncio.create_task(produce())
    errors: list[str] = []
    received = 0
    try:
        while received < count:
            message = await session.receive()
            if message != f"c{received}":
                errors.append(f"expected c{received}, got {message!r}"[:100])
            received += 1
        await producer
        await session.send(f"done {received} {len(errors)}")
        await session.receive()  # until the client closes
    finally:
        producer.cancel()
        verified[session.id] = (received, errors)


HEARTBEATS: dict[str, Any] = {"ping_interval": 0.2, "ping_timeout": 0.3, "poll_timeout": 0.5}


def build_app(backend: Callable[[], Backend | None] = lambda: None) -> Starlette:
    """The test app, its mounts each on a backend made by ``backend`` (None: in memory)."""
    # The throughput tests (10,000 messages each way) send faster than the default rate limit.
    unlimited: dict[str, Any] = {"max_rate": None}
    mounts = {
        "echo": RealtimeApp(echo, backend=backend(), **unlimited),
        "push": RealtimeApp(push, backend=backend()),
        "commands": RealtimeApp(commands, backend=backend(), keep_headers=["X-Test"]),
        # Short timeouts, for expiry and heartbeat tests:
        "short": RealtimeApp(
            echo, backend=backend(), session_ttl=0.5, ping_interval=0.2, ping_timeout=0.3
        ),
        "verify": RealtimeApp(
            verify, backend=backend(), send_timeout=30, **HEARTBEATS, **unlimited
        ),
        "heartbeat": RealtimeApp(echo, backend=backend(), **HEARTBEATS),
        # A small window and a short send timeout, for slow-consumer tests:
        "slow": RealtimeApp(commands, backend=backend(), send_timeout=0.3, max_queue=100),
    }
    hub = mounts["commands"].hub

    async def publish(request: Request) -> JSONResponse:
        """Publishes from outside any session: ``POST /publish?room=...``, the text as body."""
        body = (await request.body()).decode()
        return JSONResponse({"queued": await hub.publish(request.query_params["room"], body)})

    async def send_to(request: Request) -> JSONResponse:
        """Sends to one session from outside: ``POST /send?sid=...``, the text as body."""
        body = (await request.body()).decode()
        return JSONResponse({"queued": await hub.send(request.query_params["sid"], body)})

    async def flood(request: Request) -> JSONResponse:
        """Publishes ``count`` messages ``f<first>``..: ``POST /flood?room=&count=[&first=]``.
        Returns how many sessions each was queued for."""
        room, count = request.query_params["room"], int(request.query_params["count"])
        first = int(request.query_params.get("first", 0))
        queued = [await hub.publish(room, f"f{i}") for i in range(first, first + count)]
        return JSONResponse({"queued": queued})

    async def burst(request: Request) -> JSONResponse:
        """Publishes ``count`` messages ``b<i>`` back to back: ``POST /burst?room=&count=``.
        Returns, after each publish, how many streaming connections the ``commands`` mount had
        and how many of them had not written every message queued for their session yet."""
        room, count = request.query_params["room"], int(request.query_params["count"])
        app = mounts["commands"]
        streams: list[int] = []
        behind: list[int] = []
        for i in range(count):
            await hub.publish(room, f"b{i}")
            pumps = [channel.pump for channel in app.engine.channels() if channel.pump]
            late = 0
            for pump in pumps:
                unwritten = await app.backend.pending(pump.channel.session_id, pump.cursor, 1, None)
                late += bool(unwritten.messages)
            streams.append(len(pumps))
            behind.append(late)
        return JSONResponse({"streams": streams, "behind": behind})

    async def snapshot(request: Request) -> JSONResponse:
        """The server's view of a session: ``GET /snapshot/{mount}/{sid}``."""
        app = mounts[request.path_params["mount"]]
        state = await app.backend.snapshot(request.path_params["sid"])
        if state is None:
            return JSONResponse(None)
        return JSONResponse(
            {"status": state.status, "transport": state.transport, "close_code": state.close_code}
        )

    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for mounted in mounts.values():
                await stack.enter_async_context(mounted.lifespan())
            yield

    return Starlette(
        routes=[
            *(Mount(f"/{name}", mounted) for name, mounted in mounts.items()),
            Route("/publish", publish, methods=["POST"]),
            Route("/flood", flood, methods=["POST"]),
            Route("/burst", burst, methods=["POST"]),
            Route("/send", send_to, methods=["POST"]),
            Route("/snapshot/{mount}/{sid}", snapshot),
        ],
        lifespan=contextlib.asynccontextmanager(lifespan),
    )
