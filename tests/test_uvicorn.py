"""realtime.uvicorn finds the RealtimeApps to drain, whether given an app or an import string."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount, Router

from realtime import RealtimeApp, Session
from realtime.uvicorn import Server, find_realtime_apps


async def handler(session: Session) -> None:
    pass


def test_finds_apps_mounted_anywhere_behind_middleware() -> None:
    inner, outer = RealtimeApp(handler), RealtimeApp(handler)
    app = Starlette(
        routes=[Mount("/a", outer), Mount("/nested", Router(routes=[Mount("/b", inner)]))],
        middleware=[Middleware(GZipMiddleware)],
    )
    assert {id(found) for found in find_realtime_apps(app)} == {id(inner), id(outer)}
    assert list(find_realtime_apps(outer)) == [outer]


def test_an_import_string_is_searched_once_the_server_loads_it() -> None:
    server = Server(uvicorn.Config("examples.chat.app:app"))
    from examples.chat.app import realtime

    assert server.realtime_apps == [realtime]
