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
import logging
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import uvicorn

from realtime.app import RealtimeApp
from realtime.observe.redact import RedactTokens

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


def ws_max_size(apps: Iterable[RealtimeApp]) -> int | None:
    """The WebSocket message size uvicorn should accept: a binary frame of the largest
    ``max_message_size`` and its header. Larger ones are refused (1009) before they are
    buffered whole; uvicorn's own default is 16 MiB."""
    sizes = [app.max_message_size for app in apps]
    if not sizes or None in sizes:
        return None
    return max(size for size in sizes if size is not None) + 64


def serve(app: Any, **options: Any) -> None:
    """Run ``app`` like ``uvicorn.run(app, **options)``, draining realtime apps on shutdown.

    Unless given, ``ws_max_size`` is set from the realtime apps' ``max_message_size``, and
    permessage-deflate is off (``ws_per_message_deflate=False``): a small compressed frame
    inflates in full before any size check, so one client could make the server hold
    hundreds of MiB; realtime's messages are small or already compressed anyway. The access
    log redacts session tokens (:class:`~realtime.observe.redact.RedactTokens`).
    """
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
    # An import string is loaded by the server, which looks for the realtime apps then.
    apps = None if isinstance(app, str) else list(find_realtime_apps(app))
    if apps and "ws_max_size" not in options and (limit := ws_max_size(apps)) is not None:
        options["ws_max_size"] = limit
    options.setdefault("ws_per_message_deflate", False)
    try:
        Server(uvicorn.Config(app, **options), apps).run()
    except KeyboardInterrupt:
        pass  # Ctrl+C: uvicorn shut down gracefully, then raised the signal again, as uvicorn.run
