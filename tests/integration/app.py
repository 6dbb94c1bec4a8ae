"""The app the contract tests run in a real uvicorn: small handlers under separate mounts."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from realtime import PayloadTooBig, RealtimeApp, Session, SessionClosed

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
        elif name == "info":
            await session.send(f"{session.headers.get('x-test')} {session.query_params.get('q')}")
        elif name == "crash":
            raise RuntimeError("handler crashed on purpose")


echo_app = RealtimeApp(echo)
short_app = RealtimeApp(echo, session_ttl=0.5, ping_interval=0.2, ping_timeout=0.3)
"""Short timeouts, for expiry and heartbeat tests."""
push_app = RealtimeApp(push)
commands_app = RealtimeApp(commands)


async def publish(request: Request) -> JSONResponse:
    """Publishes from outside any session: ``POST /publish?room=...`` with the text as body."""
    body = (await request.body()).decode()
    count = await commands_app.hub.publish(request.query_params["room"], body)
    return JSONResponse({"queued": count})


async def send_to(request: Request) -> JSONResponse:
    """Sends to one session from outside: ``POST /send?sid=...`` with the text as body."""
    body = (await request.body()).decode()
    return JSONResponse({"queued": await commands_app.hub.send(request.query_params["sid"], body)})


app = Starlette(
    routes=[
        Mount("/echo", echo_app),
        Mount("/push", push_app),
        Mount("/commands", commands_app),
        Mount("/short", short_app),
        Route("/publish", publish, methods=["POST"]),
        Route("/send", send_to, methods=["POST"]),
    ]
)
