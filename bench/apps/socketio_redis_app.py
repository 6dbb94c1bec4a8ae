"""python-socketio on Redis (``AsyncRedisManager``): the peer of realtime on Redis in the
scale-out scenario, one app per node, every node on one redis-server.

The app of ``bench.apps.socketio_app`` with a client manager that carries each emit to every
node over Redis pub/sub (one PUBLISH per emit, whatever the room's size; each node fans out to
its own connections). ``/bench/count`` and the broadcast's answer count the room over all
nodes: every node keeps its connections in one Redis set (SADD at connect, SREM at
disconnect, one SCARD per broadcast: the only commands the bench adds to the manager's).
``GET /bench/node`` tells what this node holds, as ``bench.apps.realtime_app`` does.

Set in the environment by the scale-out scenario: ``BENCH_REDIS_URL``, ``BENCH_REDIS_PREFIX``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import socketio
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["app"]

ROOM = "bench"
URL = os.environ["BENCH_REDIS_URL"]
MEMBERS = f"{os.environ.get('BENCH_REDIS_PREFIX', 'bench')}:socketio:members"

sio = socketio.AsyncServer(
    async_mode="asgi", client_manager=socketio.AsyncRedisManager(URL, channel="bench-socketio")
)
redis = Redis.from_url(URL)
connected: set[str] = set()


async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    await sio.enter_room(sid, ROOM)
    connected.add(sid)
    await redis.sadd(MEMBERS, sid)


async def disconnect(sid: str, reason: Any = None) -> None:
    connected.discard(sid)
    await redis.srem(MEMBERS, sid)


async def echo(sid: str, data: Any) -> None:
    await sio.emit("echo", data, to=sid)


sio.on("connect", connect)
sio.on("disconnect", disconnect)
sio.on("echo", echo)


async def broadcast(request: Request) -> PlainTextResponse:
    await sio.emit("b", (await request.body()).decode(), room=ROOM)
    return PlainTextResponse(str(await redis.scard(MEMBERS)))


async def count(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(await redis.scard(MEMBERS)))


async def node(request: Request) -> Response:
    held = {"handlers": len(connected), "websocket": len(connected), "http": 0}
    return Response(json.dumps(held), media_type="application/json")


http = Starlette(
    routes=[
        Route("/bench/broadcast", broadcast, methods=["POST"]),
        Route("/bench/count", count),
        Route("/bench/node", node),
    ]
)
app = socketio.ASGIApp(sio, other_asgi_app=http)
