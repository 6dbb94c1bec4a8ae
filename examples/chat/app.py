"""A chat: rooms, nicknames, who is online, and the transport in use shown live.

Run it with ``python -m realtime demo`` (or ``uvicorn examples.chat.app:app``) and open
http://127.0.0.1:8000 in two browsers. Add ``?transport=sse`` or ``?transport=longpoll`` to
the page's URL to force a transport.

It speaks in events (realtime.events), not in an envelope of its own:
  page -> server  call "join" {"room"} -> {"room", "online"}   event "say" {"text"}
                  event "nick" {"nick"}
  server -> page  "welcome" {"nick"}   "chat" {"room", "nick", "text", "time"}
                  "notice" {"room", "text"}   "presence:join" / "presence:leave" (the library's)

The handler keeps its room and nickname in ``session.state``, saved with the session: when a
node dies (examples/multi_node), another one restarts the handler with them, and the page,
which joined once, goes on talking. Joins and leaves are announced by the library, which does
not announce a leave when a shutdown only moves the handler.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from realtime import Backend, RealtimeApp, Session

STATIC = Path(__file__).parent / "static"
MAX_TEXT = 2000

User = dict[str, str]


def clean(text: object, limit: int) -> str:
    return " ".join(str(text).split())[:limit]


async def authenticate(conn: HTTPConnection) -> User:
    """No accounts in a demo: the nickname is the user (all tabs of "ada" are one user)."""
    nick = clean(conn.query_params.get("nick") or "", 24)
    return {"id": nick or f"guest-{secrets.token_hex(2)}", "nick": nick}


async def chat(session: Session[User]) -> None:
    state = session.state  # {"room", "nick"}: what a restarted handler must know
    if not session.restarted:
        state["nick"] = session.user["nick"] or session.user["id"]
        await session.save()
        await session.emit("welcome", {"nick": state["nick"]})
    hub = session.hub

    async def notice(text: str) -> None:
        await hub.emit(state["room"], "notice", {"room": state["room"], "text": text})

    async for event in session.events():
        data: Any = event.data if isinstance(event.data, dict) else {}
        if event.name == "join":
            room = clean(data.get("room") or "general", 32).lower() or "general"
            if state.get("room") != room:
                if "room" in state:
                    await session.leave(state["room"])  # announced to its members
                state["room"] = room
                await session.join(room, announce=True)  # saves the state too
            await event.reply({"room": room, "online": len(await hub.presence(room))})
        elif event.name == "nick" and "room" in state:
            old, state["nick"] = state["nick"], clean(data.get("nick"), 24) or state["nick"]
            await session.save()
            await notice(f"{old} is now {state['nick']}")
        elif event.name == "say" and "room" in state:
            text = clean(data.get("text", ""), MAX_TEXT)
            if text:
                body = {"room": state["room"], "nick": state["nick"], "text": text}
                await hub.emit(state["room"], "chat", {**body, "time": time.time()})


def backend() -> Backend | None:
    """In memory by default; on Redis when REALTIME_REDIS_URL is set (examples/multi_node)."""
    url = os.environ.get("REALTIME_REDIS_URL")
    if not url:
        return None
    from realtime.backends.redis import RedisBackend  # needs the "redis" extra

    return RedisBackend(url)


realtime = RealtimeApp(chat, backend=backend(), authenticate=authenticate)


async def index(request: object) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


app = Starlette(
    routes=[Route("/", index), Mount("/realtime", realtime)],
    lifespan=realtime.lifespan,
)
