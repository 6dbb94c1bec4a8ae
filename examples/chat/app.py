"""A chat: rooms, nicknames, and the transport in use shown live.

Run it with ``python -m realtime demo`` (or ``uvicorn examples.chat.app:app``) and open
http://127.0.0.1:8000 in two browsers. Add ``?transport=sse`` or ``?transport=longpoll`` to
the page's URL to force a transport.

Wire format between page and handler: JSON objects.
  page -> server  {"type": "join", "room": "general"} | {"type": "say", "text": "hi"}
                  | {"type": "nick", "nick": "ada"}
  server -> page  {"type": "message", "room", "nick", "text", "time"}
                  | {"type": "notice", "room", "text", "online"} | {"type": "welcome", "nick"}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from realtime import Backend, RealtimeApp, Session

STATIC = Path(__file__).parent / "static"
MAX_TEXT = 2000


def clean(text: object, limit: int) -> str:
    return " ".join(str(text).split())[:limit]


async def chat(session: Session) -> None:
    nick = clean(session.query_params.get("nick") or f"guest-{session.id[:4]}", 24)
    room: str | None = None

    async def notice(text: str) -> None:
        if room is not None:
            online = len(await session.hub.members(room))
            body = {"type": "notice", "room": room, "text": text, "online": online}
            await session.hub.publish(room, json.dumps(body))

    await session.send(json.dumps({"type": "welcome", "nick": nick}))
    try:
        async for raw in session:
            try:
                message = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "join":
                new_room = clean(message.get("room") or "general", 32).lower() or "general"
                if room is not None:
                    await session.leave(room)
                    await notice(f"{nick} left")
                room = new_room
                await session.join(room)
                await notice(f"{nick} joined")
            elif kind == "nick":
                old, nick = nick, clean(message.get("nick"), 24) or nick
                await notice(f"{old} is now {nick}")
            elif kind == "say" and room is not None:
                text = clean(message.get("text", ""), MAX_TEXT)
                if text:
                    body = {
                        "type": "message",
                        "room": room,
                        "nick": nick,
                        "text": text,
                        "time": time.time(),
                    }
                    await session.hub.publish(room, json.dumps(body))
    finally:
        if room is not None:
            await notice(f"{nick} left")


def backend() -> Backend | None:
    """In memory by default; on Redis when REALTIME_REDIS_URL is set (examples/multi_node)."""
    url = os.environ.get("REALTIME_REDIS_URL")
    if not url:
        return None
    from realtime.backends.redis import RedisBackend  # needs the "redis" extra

    return RedisBackend(url)


realtime = RealtimeApp(chat, backend=backend())


async def index(request: object) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


app = Starlette(
    routes=[Route("/", index), Mount("/realtime", realtime)],
    lifespan=realtime.lifespan,
)
