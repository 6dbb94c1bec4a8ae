"""The floor: bare Starlette endpoints written the obvious way.

- ``/ws``: WebSocket echo; every open WebSocket is in a set the broadcast loops over.
- ``/sse?cid=``: an sse-starlette stream fed from a per-client ``asyncio.Queue``.
- ``/lp?cid=``: long-poll; answers the client's queued messages as a JSON array, or waits
  up to ``POLL_TIMEOUT`` for one.
- ``POST /send?cid=``: queue the body for that client (its SSE stream or its polls).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.apps.burst import burst_payloads

POLL_TIMEOUT = 20.0


class PollQueue:
    """The messages waiting for one long-polling client."""

    __slots__ = ("event", "messages")

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.event = asyncio.Event()

    def put(self, message: str) -> None:
        self.messages.append(message)
        self.event.set()


open_websockets: set[WebSocket] = set()
sse_queues: dict[str, asyncio.Queue[str]] = {}
poll_queues: dict[str, PollQueue] = {}


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    open_websockets.add(websocket)
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        open_websockets.discard(websocket)


async def sse_endpoint(request: Request) -> EventSourceResponse:
    cid = request.query_params["cid"]
    queue: asyncio.Queue[str] = asyncio.Queue()
    sse_queues[cid] = queue

    async def events() -> AsyncIterator[str]:
        try:
            while True:
                yield await queue.get()
        finally:
            sse_queues.pop(cid, None)

    return EventSourceResponse(events())


async def lp_endpoint(request: Request) -> JSONResponse:
    client = poll_queues.setdefault(request.query_params["cid"], PollQueue())
    if not client.messages:
        client.event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.event.wait(), POLL_TIMEOUT)
    messages, client.messages = client.messages, []
    return JSONResponse(messages)


async def send(request: Request) -> PlainTextResponse:
    cid = request.query_params["cid"]
    message = (await request.body()).decode()
    queue = sse_queues.get(cid)
    if queue is not None:
        queue.put_nowait(message)
    else:
        poll_queues.setdefault(cid, PollQueue()).put(message)
    return PlainTextResponse("ok")


async def broadcast(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(await _broadcast((await request.body()).decode())))


async def burst(request: Request) -> PlainTextResponse:
    queued = 0
    for message in burst_payloads(await request.body()):
        queued += await _broadcast(message)
    return PlainTextResponse(str(queued))


async def _broadcast(message: str) -> int:
    queued = 0
    for websocket in list(open_websockets):
        try:
            await websocket.send_text(message)
            queued += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            open_websockets.discard(websocket)
    for queue in sse_queues.values():
        queue.put_nowait(message)
    for client in poll_queues.values():
        client.put(message)
    return queued + len(sse_queues) + len(poll_queues)


async def count(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(open_websockets) + len(sse_queues) + len(poll_queues)))


app = Starlette(
    routes=[
        WebSocketRoute("/ws", ws_endpoint),
        Route("/sse", sse_endpoint),
        Route("/lp", lp_endpoint),
        Route("/send", send, methods=["POST"]),
        Route("/bench/broadcast", broadcast, methods=["POST"]),
        Route("/bench/burst", burst, methods=["POST"]),
        Route("/bench/count", count),
    ]
)
