"""Fixtures of the browser tests: one headless Chromium for the session, a real uvicorn
serving the test app, nginx and TCP proxies in front of it, and a fresh page per test.

Playwright drives Debian's Chromium (``/usr/bin/chromium``); Playwright's own browser download
does not work here. Every wait is bounded: Playwright calls by ``TIMEOUT_MS``. Firefox and
WebKit are driven otherwise, by tests/browser/engines.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser.app import make_app
from tests.browser.proxy import Proxy
from tests.servers import free_port, nginx, port_of, uvicorn_server, wait_for_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
"""The bound of every wait on the page."""

# An nginx location that passes HTTP on but not WebSocket upgrades (no Upgrade/Connection
# headers), without buffering, and with the Host the server's Origin check expects.
NO_UPGRADE = """
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      proxy_pass http://127.0.0.1:%(target)d;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 60s;
    }
  }
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for all the tests of a module (the browser tests are one module).

    Not for the session: while Playwright's sync API is started, the main thread has an
    asyncio loop marked running, and the anyio tests of later modules could not run theirs.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The test app in uvicorn: its base URL. A small window (max_queue) makes flow control,
    acknowledgements and resume work hard in every test that streams."""
    site, _ = make_app(max_queue=64)
    with uvicorn_server(site) as base:
        yield base


@pytest.fixture(scope="session")
def echo_server() -> Iterator[str]:
    """The test app with a small window but no rate limit, for tests that send hundreds of
    messages up at once (tests/browser/builds.html)."""
    site, _ = make_app(max_queue=64, max_rate=None)
    with uvicorn_server(site) as base:
        yield base


@pytest.fixture(scope="session")
def fast_heartbeats() -> Iterator[str]:
    """The test app with heartbeats every 0.2 s: silent for 0.4 s, a connection is dead."""
    site, _ = make_app(ping_interval=0.2, ping_timeout=0.2)
    with uvicorn_server(site) as base:
        yield base


@pytest.fixture(scope="session")
def buffering_proxy(server: str) -> Iterator[Proxy]:
    """A proxy that holds back event streams, in front of the server."""
    with Proxy(port_of(server), hold_event_streams=True) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def proxies(
    server: str, buffering_proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Base URLs through nginx without WebSocket upgrades: ``"plain"`` straight to the server,
    ``"buffering"`` to the server through the buffering proxy."""
    ports = {"plain": free_port(), "buffering": free_port()}
    servers = NO_UPGRADE % {"port": ports["plain"], "target": port_of(server)}
    servers += NO_UPGRADE % {"port": ports["buffering"], "target": buffering_proxy.port}
    directory: Path = tmp_path_factory.mktemp("nginx")
    with nginx(servers, directory):
        for port in ports.values():
            wait_for_port(port)
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}


@pytest.fixture
def cutter(server: str) -> Iterator[Proxy]:
    """A proxy in front of the server whose connections a test can cut."""
    with Proxy(port_of(server)) as proxy:
        yield proxy


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, for :func:`page` to see whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def describe(page: Page) -> str:
    """What the test page saw: the client's events, its transport, the messages' count and
    last ones, for a failed test's report."""
    seen = page.evaluate(
        """() => ({events: window.events, transport: window.rt?.transport,
                   count: window.messages?.length, last: window.messages?.slice(-5)})"""
    )
    return json.dumps(seen, indent=1, default=str)


@pytest.fixture
def page(
    browser: Browser, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[Page]:
    """A fresh page; if the test fails, what it saw is printed (see :func:`describe`), and
    the realtime loggers' INFO lines (sessions opened, resumed, closed) show beside."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    caplog.set_level(logging.INFO, logger="realtime")
    try:
        page = context.new_page()
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            with contextlib.suppress(PlaywrightError):  # a page that crashed tells nothing
                print("the page saw:", describe(page))
    finally:
        context.close()
