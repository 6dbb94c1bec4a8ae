"""The server of the legacy example: a lobby where every message goes to every page.

Run it with ``python -m examples.legacy`` and open http://127.0.0.1:8000 in two tabs; or
follow CURL.md with nothing but curl.

The page (static/index.html) uses no client library: a native ``EventSource`` for the
stream down and ``fetch`` POSTs for the frames up, exactly as PROTOCOL.md section 10 says.
Nothing on this side knows or cares: the handler is the same whatever the client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from realtime import RealtimeApp, Session

ROOM = "lobby"


async def lobby(session: Session) -> None:
    name = session.id[:6]  # the public session id, shortened: good enough for a demo
    await session.join(ROOM)
    await session.send(f"welcome, {name}: what you send goes to everyone here")
    async for message in session:
        if isinstance(message, str):
            await session.hub.publish(ROOM, f"{name}: {message}")


realtime = RealtimeApp(lobby)


async def index(request: Request) -> FileResponse:
    return FileResponse(Path(__file__).parent / "static" / "index.html")


app = Starlette(
    routes=[Route("/", index), Mount("/realtime", realtime)], lifespan=realtime.lifespan
)
