"""A live dashboard: the server pushes metrics to every open page, twice a second.

Run it with ``python -m examples.dashboard`` and open http://127.0.0.1:8000.

A background task, started with the app (lifespan), makes up CPU, memory and request-rate
figures and publishes each sample to the room ``metrics`` with ``hub.publish``; every session
joins that room. A page that opens late first gets the last minute of samples, to draw its
sparklines at once. The page (static/index.html) uses the JavaScript client with
``transports: ["sse", "longpoll"]``: a one-way feed needs no WebSocket.

Wire format (server -> page, JSON):
    {"type": "sample", "n": 42, "time": 1700000000.0, "cpu": 37.5, "memory": 512.0,
     "rps": 1234, "viewers": 2}
    {"type": "history", "samples": [sample, ...]}      once, when the page connects
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from realtime import Hub, RealtimeApp, Session

ROOM = "metrics"
INTERVAL = 0.5  # seconds between samples
HISTORY = 120  # samples a new page gets: one minute

history: deque[dict[str, Any]] = deque(maxlen=HISTORY)


async def viewer(session: Session) -> None:
    """A page: it joins the room, gets the history, then only listens."""
    await session.join(ROOM)
    # Joined first, then the history: a sample published in between is in both, and the
    # page drops samples it has (each has a number, ``n``).
    await session.send(json.dumps({"type": "history", "samples": list(history)}))
    async for _ in session:  # the page sends nothing; this waits until the session ends
        pass


def walk(value: float, step: float, low: float, high: float, rng: random.Random) -> float:
    """One step of a bounded random walk: fake figures that look alive."""
    return min(high, max(low, value + rng.uniform(-step, step)))


async def publish_metrics(hub: Hub, interval: float = INTERVAL) -> None:
    """Publish a sample to every viewer every ``interval`` seconds, until cancelled."""
    rng = random.Random()
    cpu, memory, rps = 35.0, 512.0, 1200.0
    for n in itertools.count(1):
        cpu = walk(cpu, 6, 2, 98, rng)
        memory = walk(memory, 12, 256, 1024, rng)
        rps = walk(rps, 150, 100, 5000, rng)
        sample = {
            "type": "sample",
            "n": n,
            "time": time.time(),
            "cpu": round(cpu, 1),
            "memory": round(memory, 1),
            "rps": round(rps),
            "viewers": len(await hub.members(ROOM)),
        }
        history.append(sample)
        await hub.publish(ROOM, json.dumps(sample))  # never waits for a slow page
        await asyncio.sleep(interval)


realtime = RealtimeApp(viewer)


async def index(request: Request) -> FileResponse:
    return FileResponse(Path(__file__).parent / "static" / "index.html")


# --8<-- [start:lifespan]
@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with realtime.lifespan():  # Starlette does not run a mounted app's lifespan
        task = asyncio.create_task(publish_metrics(realtime.hub))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


app = Starlette(routes=[Route("/", index), Mount("/realtime", realtime)], lifespan=lifespan)
# --8<-- [end:lifespan]
