"""Clients written from PROTOCOL.md section 10 alone, with the browser's own APIs (a plain
EventSource with fetch, a plain WebSocket, fetch long-polling), in Chromium, on both
backends: the document must be enough to write one (tests/browser/recipes.html)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from realtime.backends.base import Backend
from tests.browser.app import make_app
from tests.browser.conftest import TIMEOUT_MS
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.browser]

COUNT = 50


@pytest.fixture(scope="module", params=["memory", "redis"])
def recipes_site(request: pytest.FixtureRequest) -> Iterator[str]:
    backend: Backend | None = None
    if request.param == "redis":
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        backend = RedisBackend(url, prefix=f"recipes-{secrets.token_hex(4)}")
    # A small window, so that acks must flow; no rate limit: the recipes send as fast as
    # the window lets them (the rate limit has tests of its own).
    site, _ = make_app(backend=backend, max_queue=16, max_rate=None)
    with uvicorn_server(site) as base:
        yield base


@pytest.mark.parametrize("recipe", ["viaEventSource", "viaWebSocket", "viaLongPoll"])
def test_a_client_written_from_the_document(
    browser: Browser, recipes_site: str, recipe: str
) -> None:
    page = browser.new_page()
    try:
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{recipes_site}/recipes")
        result = page.evaluate(f"{recipe}({COUNT})")
    finally:
        page.close()
    assert result["received"] == [f"m{i}" for i in range(1, COUNT + 1)], result
    assert result["close"] == "c1000:bye"
