"""Leaving a page ends its session at once, on every transport: the JS client sends the close
on ``pagehide`` (over its WebSocket, or by a ``keepalive`` POST), so the app sees the leave
in well under a second instead of ``session_ttl`` later; a page restored from the
back-forward cache starts a new session. The delays are reported, never asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

pytestmark = pytest.mark.browser

TRANSPORTS = ["websocket", "sse", "longpoll"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium with its back-forward cache, which Playwright turns off by default."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--disable-back-forward-cache"],
            timeout=TIMEOUT_MS,
        )
        try:
            yield browser
        finally:
            browser.close()


def open_session(page: Page, server: str, transport: str) -> str:
    """Load the test page, connect on ``transport`` and return the session's id."""
    page.goto(server + "/")
    page.wait_for_function("window.ready")
    page.evaluate("(t) => { start({ transports: [t] }); rt.send('id'); }", transport)
    page.wait_for_function("window.messages.length == 1")
    assert page.evaluate("rt.transport") == transport
    return str(page.evaluate("window.messages[0]"))


def wait_ended(server: str, sid: str, timeout: float = 10.0) -> tuple[int | None, float]:
    """The close code and time the app saw for ``sid``, polled for at most ``timeout``."""
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            ended = client.get(server + "/ended").json()
            if sid in ended:
                code, when = ended[sid]
                return code, when
            time.sleep(0.02)
    raise AssertionError(f"the app never saw session {sid} end")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_leaving_the_page_ends_the_session(page: Page, server: str, transport: str) -> None:
    sid = open_session(page, server, transport)
    left = time.time()
    page.goto(server + "/builds")  # another page: pagehide on the first
    code, when = wait_ended(server, sid)
    print(f"\n{transport}: the app saw the leave {1000 * (when - left):.0f} ms after navigating")
    assert code == 1001  # the client's close (going away), not an expiry (4000)


def test_a_page_restored_from_the_cache_starts_a_new_session(page: Page, server: str) -> None:
    sid = open_session(page, server, "websocket")
    page.evaluate(
        "window.restored = false;"
        " addEventListener('pageshow', (e) => { window.restored = e.persisted; })"
    )
    page.goto(server + "/builds")
    assert wait_ended(server, sid)[0] == 1001
    page.go_back(wait_until="commit")
    # Only a page kept in the back-forward cache has window.restored (a reload would not).
    page.wait_for_function("window.restored === true")
    page.wait_for_function("window.events.some((e) => e.type == 'reset')")
    page.evaluate("rt.send('id')")
    page.wait_for_function("window.messages.length == 2")
    new_sid = page.evaluate("window.messages[1]")
    assert new_sid != sid
    reset = page.evaluate("window.events.find((e) => e.type == 'reset')")
    assert (reset["code"], reset["reason"]) == (1001, "pagehide")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_closing_the_tab_ends_the_session(page: Page, server: str, transport: str) -> None:
    sid = open_session(page, server, transport)
    closed = time.time()
    page.close(run_before_unload=True)
    code, when = wait_ended(server, sid)
    print(f"\n{transport}: the app saw the tab close {1000 * (when - closed):.0f} ms after")
    assert code == 1001
