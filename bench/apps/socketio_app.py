"""python-socketio: echo and a broadcast room, on its ASGI app (websocket and polling).

:func:`create_app` builds the app on a given server and room count (``app`` is the one-node
app); ``bench.apps.socketio_redis_app`` builds the same on Redis. Besides the two endpoints of
every bench app, ``GET /bench/node`` tells what this process holds, as
``bench.apps.realtime_app`` does.
"""

from __future__ import annotations

import json
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.apps.burst import burst_payloads

__all__ = ["ROOM", "Members", "app", "create_app"]

ROOM = "bench"


class Members:
    """The room's members, counted in this process (``local``: the ones it holds)."""

    def __init__(self) -> None:
        self.local: set[str] = set()

    async def add(self, sid: str) -> None:
        self.local.add(sid)

    async def remove(self, sid: str) -> None:
        self.local.discard(sid)

    async def count(self) -> int:
        return len(self.local)


def create_app(sio: socketio.AsyncServer, members: Members) -> socketio.ASGIApp:
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, ROOM)
        await members.add(sid)

    async def disconnect(sid: str, reason: Any = None) -> None:
        await members.remove(sid)

    async def echo(sid: str, data: Any) -> None:
        await sio.emit("echo", data, to=sid)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("echo", echo)

    async def broadcast(request: Request) -> PlainTextResponse:
        await sio.emit("b", (await request.body()).decode(), room=ROOM)
        return PlainTextResponse(str(await members.count()))

    async def burst(request: Request) -> PlainTextResponse:
        sent = 0
        for message in burst_payloads(await request.body()):
            await sio.emit("b", message, room=ROOM)
            sent += 1
        return PlainTextResponse(str(await members.count() * sent))

    async def count(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(await members.count()))

    async def node(request: Request) -> Response:
        held = {"handlers": len(members.local), "websocket": len(members.local), "http": 0}
        return Response(json.dumps(held), media_type="application/json")

    http = Starlette(
        routes=[
            Route("/bench/broadcast", broadcast, methods=["POST"]),
            Route("/bench/burst", burst, methods=["POST"]),
            Route("/bench/count", count),
            Route("/bench/node", node),
        ]
    )
    return socketio.ASGIApp(sio, other_asgi_app=http)


app = create_app(socketio.AsyncServer(async_mode="asgi"), Members())
