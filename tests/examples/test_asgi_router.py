"""The realtime app under a plain ASGI router, as docs/how-to/mount.md shows it
(docs/how-to/src/asgi_router.py): each transport works with and without the server's
``--root-path``, and the router's lifespan starts and stops the realtime app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

import realtime.client
from realtime.types import TransportName
from tests.examples.conftest import ROOT, load_module
from tests.servers import uvicorn_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def router() -> ModuleType:
    return load_module(ROOT / "docs" / "how-to" / "src" / "asgi_router.py")


@pytest.fixture(scope="module", params=["", "/chat"], ids=["no-root-path", "root-path"])
def site(request: pytest.FixtureRequest, router: ModuleType) -> Iterator[str]:
    """The router in uvicorn; with ``--root-path /chat``, requests come as a proxy that
    strips ``/chat`` sends them."""
    with uvicorn_server(router.app, root_path=request.param) as base:
        assert router.realtime._started, "the lifespan started the realtime app"
        yield base
    assert not router.realtime._started, "the lifespan shut the realtime app down"


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
async def test_each_transport_under_the_router(site: str, transport: TransportName) -> None:
    async with realtime.client.connect(f"{site}/realtime", transport=transport) as conn:
        await conn.send("ping")
        assert await asyncio.wait_for(conn.receive(), 10) == "ping"
        assert conn.transport == transport


@pytest.mark.anyio
async def test_the_router_serves_the_rest(site: str) -> None:
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{site}/")
        script = await http.get(f"{site}/realtime/client.js")
    assert (page.status_code, page.text) == (200, "hello")
    assert script.status_code == 200 and "export" in script.text
