"""One node of the test cluster: ``python -m tests.multinode.node --port P``.

Reads REALTIME_REDIS_URL and REALTIME_PREFIX from the environment, and optionally
REALTIME_PING (the ping interval in seconds, 1 by default) and REALTIME_MAX_PER_CLIENT
(max_sessions_per_client). Serves the app under ``/rt``, its own node id at ``/node``, and
``POST /busy?seconds=S&slice=T``, which keeps the event loop busy computing for S seconds in
slices of T seconds (a CPU-bound neighbour that yields between slices); drains on SIGTERM
(realtime.uvicorn.serve).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from realtime import RealtimeApp, Session
from realtime.backends.redis import RedisBackend
from realtime.uvicorn import serve

STREAM = "stream"
"""The room every session joins; the tests publish to it from outside."""


async def handler(session: Session) -> None:
    """Joins the stream, echoes every message as ``e<message>``."""
    await session.join(STREAM)
    async for message in session:
        await session.send(f"e{message!s}")


def build() -> Starlette:
    backend = RedisBackend(os.environ["REALTIME_REDIS_URL"], prefix=os.environ["REALTIME_PREFIX"])
    realtime = RealtimeApp(
        handler,
        backend=backend,
        ping_interval=float(os.environ.get("REALTIME_PING", "1")),
        ping_timeout=1,
        max_rate=None,  # throughput
        max_sessions_per_client=int(os.environ.get("REALTIME_MAX_PER_CLIENT", "1000")),
    )

    async def node(request: Request) -> JSONResponse:
        return JSONResponse({"node": backend.node})

    async def busy(request: Request) -> JSONResponse:
        query = request.query_params
        seconds, piece = float(query["seconds"]), float(query.get("slice", "0.05"))
        asyncio.get_running_loop().create_task(_compute(seconds, piece))
        return JSONResponse({"busy": True})

    return Starlette(
        routes=[
            Route("/node", node),
            Route("/busy", busy, methods=["POST"]),
            Mount("/rt", realtime),
        ],
        lifespan=realtime.lifespan,
    )


async def _compute(seconds: float, piece: float) -> None:
    """Hold the event loop in slices of ``piece`` seconds of computation, yielding once
    between them."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stop = min(end, time.monotonic() + piece)
        while time.monotonic() < stop:
            sum(range(1000))
        await asyncio.sleep(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    serve(build(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
