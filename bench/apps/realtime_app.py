"""realtime: echo handler, one room joined by every session, a trigger endpoint."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from realtime import RealtimeApp, Session

ROOM = "bench"
MOUNT = "/realtime"


async def handler(session: Session) -> None:
    await session.join(ROOM)
    async for message in session:
        await session.send(message)


rt = RealtimeApp(handler)


async def broadcast(request: Request) -> PlainTextResponse:
    queued = await rt.hub.publish(ROOM, (await request.body()).decode())
    return PlainTextResponse(str(queued))


async def count(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await rt.hub.members(ROOM))))


app = Starlette(
    routes=[
        Route("/bench/broadcast", broadcast, methods=["POST"]),
        Route("/bench/count", count),
        Mount(MOUNT, rt),
    ],
    lifespan=rt.lifespan,
)
