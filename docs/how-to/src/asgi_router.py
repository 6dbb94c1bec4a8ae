"""realtime under a plain ASGI router, without Starlette around it (docs/how-to/mount.md)."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from realtime import RealtimeApp, Session

PREFIX = "/realtime"


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


realtime = RealtimeApp(echo)


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await realtime(scope, receive, send)  # starts it; drains and stops it at shutdown
        return
    root = scope.get("root_path", "")
    path = scope["path"].removeprefix(root)  # the server's --root-path is not ours
    if path == PREFIX or path.startswith(PREFIX + "/"):
        await realtime({**scope, "root_path": root + PREFIX}, receive, send)
    elif scope["type"] == "http":
        await hello(scope, receive, send)
