"""python-socketio: echo and a broadcast room, on its ASGI app (websocket and polling)."""

from __future__ import annotations

from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.apps.burst import burst_payloads

ROOM = "bench"

sio = socketio.AsyncServer(async_mode="asgi")
connected: set[str] = set()


async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    await sio.enter_room(sid, ROOM)
    connected.add(sid)


async def disconnect(sid: str, reason: Any = None) -> None:
    connected.discard(sid)


async def echo(sid: str, data: Any) -> None:
    await sio.emit("echo", data, to=sid)


sio.on("connect", connect)
sio.on("disconnect", disconnect)
sio.on("echo", echo)


async def broadcast(request: Request) -> PlainTextResponse:
    await sio.emit("b", (await request.body()).decode(), room=ROOM)
    return PlainTextResponse(str(len(connected)))


async def burst(request: Request) -> PlainTextResponse:
    count = 0
    for message in burst_payloads(await request.body()):
        await sio.emit("b", message, room=ROOM)
        count += 1
    return PlainTextResponse(str(len(connected) * count))


async def count(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(connected)))


http = Starlette(
    routes=[
        Route("/bench/broadcast", broadcast, methods=["POST"]),
        Route("/bench/burst", burst, methods=["POST"]),
        Route("/bench/count", count),
    ]
)
app = socketio.ASGIApp(sio, other_asgi_app=http)
