"""The tiny application the browser tests drive, and the page they load.

``<mount>`` is ``/realtime``. The handler echoes every message, text or binary, except two
commands: ``stream N [MS]`` answers with the N messages ``"1"`` ... ``"N"`` (MS milliseconds
apart), ``close CODE`` ends the session with that code, and ``id`` answers with the session's
id. ``GET /ended`` lists the sessions whose handler ended, with the close code and the
time (``time.time()``) it saw. The page at ``/`` loads the ES
module build and exposes ``window.start(options)`` (see page.html); ``/builds?<build>`` loads
one of the three builds and exposes ``echo``, ``binary`` and ``fatal`` (see builds.html);
``/recipes`` holds clients written from PROTOCOL.md alone (see recipes.html).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route

from realtime import RealtimeApp, Session
from realtime.exceptions import SessionClosed

PAGE = Path(__file__).with_name("page.html")
BUILDS_PAGE = Path(__file__).with_name("builds.html")
RECIPES_PAGE = Path(__file__).with_name("recipes.html")
ENDED: dict[str, tuple[int | None, float]] = {}
"""Session id → (close code, time.time()) of every session whose handler ended."""


async def handler(session: Session) -> None:
    code: int | None = None
    try:
        await _serve(session)
    except SessionClosed as exc:
        code = exc.code
    finally:
        ENDED[session.id] = (code, time.time())


async def _serve(session: Session) -> None:
    while True:
        message = await session.receive()
        command = message.split() if isinstance(message, str) else []
        if command[:1] == ["stream"]:
            pause = int(command[2]) / 1000 if len(command) > 2 else 0
            for number in range(1, int(command[1]) + 1):
                await session.send(str(number))
                if pause:
                    await asyncio.sleep(pause)
        elif command == ["id"]:
            await session.send(session.id)
        elif command[:1] == ["close"]:
            await session.close(int(command[1]), "closed by the test")
        else:
            await session.send(message)


def make_app(**options: Any) -> tuple[Starlette, RealtimeApp]:
    """The test site: the page at ``/``, realtime at ``/realtime`` with ``options``."""
    realtime = RealtimeApp(handler, **options)
    site = Starlette(
        routes=[
            Route("/", lambda request: FileResponse(PAGE)),
            Route("/builds", lambda request: FileResponse(BUILDS_PAGE)),
            Route("/recipes", lambda request: FileResponse(RECIPES_PAGE)),
            Route("/ended", lambda request: JSONResponse(ENDED)),
            Mount("/realtime", realtime),
        ],
        lifespan=realtime.lifespan,
    )
    return site, realtime


def expected_echo(count: int) -> list[str]:
    """What builds.html's ``echo(options, count)`` must receive: the server's stream of
    ``count`` numbers, then the ``count`` messages the page sent ("e1" ...) echoed, then
    "end", each once, in order (the handler reads the page's messages in order)."""
    numbers = [str(n) for n in range(1, count + 1)]
    return [*numbers, *[f"e{n}" for n in numbers], "end"]
