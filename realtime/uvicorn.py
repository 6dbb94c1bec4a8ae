"""Opt-in uvicorn integration: drain realtime connections first on shutdown.

On shutdown uvicorn stops accepting, closes WebSockets with 1012, then waits for every HTTP
response in flight to finish before it runs the lifespan shutdown. An SSE stream never
finishes by itself, so a plain ``uvicorn app:app`` waits for it until
``--timeout-graceful-shutdown`` (forever without it), then cuts it. This server drains the
realtime apps first: every SSE stream and long-poll ends at once with a reconnect frame, and
clients resume (on another process when the backend is shared). ::

    from realtime.uvicorn import serve
    serve(app, host="0.0.0.0", port=8000)       # finds the RealtimeApps mounted in app

Without it, run uvicorn with ``--timeout-graceful-shutdown 5``: the streams are then cut after
five seconds, and clients resume all the same, only later.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import uvicorn

from realtime.app import RealtimeApp

__all__ = ["Server", "find_realtime_apps", "serve"]


def find_realtime_apps(app: object) -> Iterator[RealtimeApp]:
    """The RealtimeApps in ``app``: itself, or mounted anywhere in its (Starlette) routes."""
    seen: set[int] = set()
    stack = [app]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, RealtimeApp):
            yield node
            continue
        for attribute in ("app", "router"):
            child = getattr(node, attribute, None)
            if child is not None:
                stack.append(child)
        stack.extend(getattr(node, "routes", None) or ())


class Server(uvicorn.Server):
    """uvicorn's server, draining the realtime apps before its own shutdown steps."""

    def __init__(self, config: uvicorn.Config, apps: Iterable[RealtimeApp] | None = None) -> None:
        super().__init__(config)
        self._apps = list(apps) if apps is not None else None

    @property
    def realtime_apps(self) -> list[RealtimeApp]:
        if self._apps is None:
            if not self.config.loaded:
                self.config.load()
            self._apps = list(find_realtime_apps(self.config.loaded_app))
        return self._apps

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await asyncio.gather(*(app.drain() for app in self.realtime_apps))
        await super().shutdown(sockets)


def serve(app: Any, **options: Any) -> None:
    """Run ``app`` like ``uvicorn.run(app, **options)``, draining realtime apps on shutdown."""
    config = uvicorn.Config(app, **options)
    Server(config, list(find_realtime_apps(app))).run()
