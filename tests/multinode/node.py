"""One node of the test cluster: ``python -m tests.multinode.node --port P``.

Reads REALTIME_REDIS_URL and REALTIME_PREFIX from the environment. Serves the app under
``/rt`` and its own node id at ``/node``; drains on SIGTERM (realtime.uvicorn.serve).
"""

from __future__ import annotations

import argparse
import os

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
        ping_interval=1,
        ping_timeout=1,
        max_rate=None,  # throughput
    )

    async def node(request: Request) -> JSONResponse:
        return JSONResponse({"node": backend.node})

    return Starlette(
        routes=[Route("/node", node), Mount("/rt", realtime)], lifespan=realtime.lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    serve(build(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
