"""realtime: echo handler, one room joined by every session, a trigger endpoint.

``app`` runs on the in-memory backend; :func:`create_app` builds the same app on another
backend (``bench.apps.realtime_redis_app`` puts it on Redis, for the scale-out scenario).
Besides the two endpoints of every bench app, ``GET /bench/node`` tells what this process
holds: the handlers it runs and the realtime requests in flight (open WebSockets, event
streams and pending polls), for the scale-out scenario to check how sessions spread.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.apps.burst import burst_payloads
from realtime import RealtimeApp, Session
from realtime.backends import Backend

__all__ = ["MOUNT", "ROOM", "app", "create_app"]

ROOM = "bench"
MOUNT = "/realtime"


class InFlight:
    """ASGI wrapper counting the requests in flight, by scope type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts = {"websocket": 0, "http": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in self.counts:
            await self.app(scope, receive, send)
            return
        self.counts[kind] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counts[kind] -= 1


def create_app(backend: Backend | None = None) -> Starlette:
    handlers = 0

    async def handler(session: Session) -> None:
        nonlocal handlers
        handlers += 1
        try:
            await session.join(ROOM)
            async for message in session:
                await session.send(message)
        finally:
            handlers -= 1

    # The load generator is one client address sending as fast as it can: the abuse limits
    # (messages per second per client, sessions and bytes per address) are off, as for every
    # system.
    rt = RealtimeApp(
        handler,
        backend=backend,
        max_rate=None,  # and with it the frame and per-address rates
        max_sessions_per_client=None,
        max_client_bytes=None,
    )
    in_flight = InFlight(rt)

    async def broadcast(request: Request) -> PlainTextResponse:
        queued = await rt.hub.publish(ROOM, (await request.body()).decode())
        return PlainTextResponse(str(queued))

    async def burst(request: Request) -> PlainTextResponse:
        publish, queued = rt.hub.publish, 0
        for message in burst_payloads(await request.body()):
            queued += await publish(ROOM, message)
        return PlainTextResponse(str(queued))

    async def count(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await rt.hub.members(ROOM))))

    async def node(request: Request) -> Response:
        held = {"handlers": handlers, **in_flight.counts}
        return Response(json.dumps(held), media_type="application/json")

    return Starlette(
        routes=[
            Route("/bench/broadcast", broadcast, methods=["POST"]),
            Route("/bench/burst", burst, methods=["POST"]),
            Route("/bench/count", count),
            Route("/bench/node", node),
            Mount(MOUNT, in_flight),
        ],
        lifespan=rt.lifespan,
    )


app = create_app()
