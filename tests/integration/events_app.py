"""The app the events contract tests run in a real uvicorn: events, calls, presence, state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

from realtime import Backend, RealtimeApp, Session
from realtime.events import CallError, CallTimeout, Event

User = dict[str, Any]


async def authenticate(conn: HTTPConnection) -> User:
    """The user named by the ``user`` query parameter (anonymous without one)."""
    name = conn.query_params.get("user", "anonymous")
    return {"id": name, "name": name.title()}


async def answer(session: Session[User], event: Event) -> None:
    """One event of the ``events`` handler (run in order, one at a time)."""
    name, data = event.name, event.data
    if name == "echo":
        await session.emit("echo", data)
    elif name == "add":
        await event.reply(sum(data))
    elif name == "fail":
        await event.fail("refused on purpose")
    elif name == "late":  # replies after a pause, during which the test cuts connections
        await asyncio.sleep(data)
        await event.reply("late reply")
    elif name == "ask":  # calls the client back
        try:
            result = await session.call(data["name"], data["x"], timeout=data["timeout"])
        except CallTimeout as exc:
            await session.emit("asked", {"timeout": str(exc)})
        except CallError as exc:
            await session.emit("asked", {"error": str(exc)})
        else:
            await session.emit("asked", {"result": result})
    elif name == "raw":  # a raw message that looks like an event
        await session.send(data)
    elif name == "join":
        await session.join(data)
        await session.emit("joined", data)


async def events(session: Session[User]) -> None:
    """Answers events (see :func:`answer`) and echoes raw messages as raw messages."""

    async def echo_raw() -> None:
        async for message in session:
            await session.send(message)

    raw = asyncio.create_task(echo_raw())
    try:
        async for event in session.events():
            await answer(session, event)
    finally:
        raw.cancel()


async def only_events(session: Session[User]) -> None:
    """Reads events only: raw messages wait unread (up to the window)."""
    async for event in session.events():
        if event.name == "read-raw":  # then reads as many raw messages, and says what
            got = [await session.receive() for _ in range(event.data)]
            await session.emit("raw-read", got)
        else:
            await answer(session, event)


PAGE = """<!doctype html><meta charset="utf-8"><title>events</title>
<script type="module">
import { connect, CallError } from "/events/client.events.js";
Object.assign(window, { connect, CallError, ready: true });
</script>"""


async def presence(session: Session[User]) -> None:
    """Joins the room of the ``room`` query parameter, announced (not again when restarted:
    rooms are kept), and answers questions about presence and its own state."""
    room = session.query_params.get("room")
    if room and not session.restarted:
        await session.join(room, announce=True)
    hub = session.hub
    async for event in session.events():
        name, data = event.name, event.data
        if name == "who":
            await event.reply(await hub.presence(data))
        elif name == "echo":
            await session.emit("echo", data)
        elif name == "mine":
            await event.reply(sorted(await hub.user_sessions(session.user["id"])))
        elif name == "rooms":
            await event.reply(sorted(await session.rooms()))
        elif name == "leave":
            await session.leave(data)
            await event.reply(None)
        elif name == "inc":  # counts in the saved state: it survives a restart elsewhere
            session.state["count"] = session.state.get("count", 0) + 1
            await session.save()
            await event.reply({"count": session.state["count"], "restarted": session.restarted})
        elif name == "too-big":
            session.state["big"] = "x" * 70_000
            try:
                await session.save()
            except ValueError as exc:
                await event.reply(str(exc))
            finally:
                del session.state["big"]


@dataclass
class Account:
    id: str


async def not_json(conn: HTTPConnection) -> Account:
    return Account("ada")


async def nothing(session: Session[Account]) -> None:
    raise AssertionError("no session starts: negotiation refuses it")


def build_app(backend: Callable[[], Backend | None] = lambda: None) -> Starlette:
    mounts = {
        "events": RealtimeApp(events, backend=backend(), authenticate=authenticate),
        "presence": RealtimeApp(presence, backend=backend(), authenticate=authenticate),
        "not-json": RealtimeApp(nothing, backend=backend(), authenticate=not_json),
        "only-events": RealtimeApp(
            only_events, backend=backend(), authenticate=authenticate, max_queue=16, max_rate=None
        ),
    }
    hub = mounts["events"].hub

    async def emit(request: Request) -> JSONResponse:
        """``POST /emit?room=...&name=...`` with JSON data: ``hub.emit`` from outside."""
        query = request.query_params
        return JSONResponse(
            {"queued": await hub.emit(query["room"], query["name"], await request.json())}
        )

    async def emit_user(request: Request) -> JSONResponse:
        """``POST /emit-user?user=...&name=...`` with JSON data: ``hub.emit_user``."""
        query, hub = request.query_params, mounts["presence"].hub
        queued = await hub.emit_user(query["user"], query["name"], await request.json())
        return JSONResponse({"queued": queued})

    async def page(request: Request) -> HTMLResponse:
        """A page that loads the events build from the mount (for the browser tests)."""
        return HTMLResponse(PAGE)

    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for mounted in mounts.values():
                await stack.enter_async_context(mounted.lifespan())
            yield

    return Starlette(
        routes=[
            *(Mount(f"/{name}", mounted) for name, mounted in mounts.items()),
            Route("/emit", emit, methods=["POST"]),
            Route("/emit-user", emit_user, methods=["POST"]),
            Route("/", page),
        ],
        lifespan=contextlib.asynccontextmanager(lifespan),
    )
