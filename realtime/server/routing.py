"""The app's own router: a table lookup for the requests every message makes, Starlette's
router for the rest.

Long-polling and SSE make one or more HTTP requests per message, so routing sits on the hot
path: a dictionary lookup by (scope type, method, path) replaces matching each route's
pattern in turn. Everything the table does not hold (HEAD, a wrong method, an unknown path,
lifespan events) goes to a Starlette :class:`~starlette.routing.Router` built from the same
routes, so answers (404, 405 with ``Allow``) stay Starlette's.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastRouter", "route_path"]


route_path = get_route_path
"""The request's path below where the app is mounted: Starlette's own reading, so the table
and the fallback router always agree."""


class FastRouter:
    """Dispatches by exact (type, method, path); falls back to ``router``."""

    def __init__(self, routes: Sequence[BaseRoute], router: Router) -> None:
        self.router = router
        self.table: dict[tuple[str, str, str], tuple[ASGIApp, object]] = {}
        for route in routes:
            if isinstance(route, (Route, WebSocketRoute)) and route.param_convertors:
                continue  # a pattern, not a path: the router matches it
            if isinstance(route, WebSocketRoute):
                self.table["websocket", "", route.path] = (route.app, route.endpoint)
            elif isinstance(route, Route):
                for method in route.methods or ():
                    if method != "HEAD":
                        self.table["http", method, route.path] = (route.app, route.endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        found = None
        if kind == "http":
            found = self.table.get((kind, scope["method"], route_path(scope)))
        elif kind == "websocket":
            found = self.table.get((kind, "", route_path(scope)))
        if found is None:
            await self.router(scope, receive, send)
            return
        app, scope["endpoint"] = found  # what Starlette's router would have set
        scope["path_params"] = {}
        await app(scope, receive, send)
