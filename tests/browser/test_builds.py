"""The three builds of the JavaScript client in Chromium: the ES2015 script-tag build on a page
stripped of the web APIs an old engine lacks, and every build's end when it cannot work at all.

Each test loads /builds?<build> (tests/browser/builds.html) and awaits one of its functions:
``echo`` (both ways, numbered), ``binary`` or ``fatal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.app import expected_echo, make_app
from tests.servers import uvicorn_server

pytestmark = pytest.mark.browser

# What an ES2015 engine may lack, removed before the build loads (builds.html's `strip`): no
# fetch (so no AbortController either), no WebSocket, no EventSource, no TextEncoder, URL,
# atob/btoa or Blob.prototype.arrayBuffer, and a localStorage that throws. globalThis stays
# (Playwright's own page scripts use it): `es-check es2015 --checkFeatures` (npm test) proves
# that the legacy build never names it.
STRIPPED = [
    "fetch",
    "AbortController",
    "WebSocket",
    "EventSource",
    "TextEncoder",
    "URL",
    "atob",
    "btoa",
    "Blob.arrayBuffer",
    "localStorage",
]


def load(page: Page, base: str, build: str, strip: list[str] | None = None) -> None:
    page.goto(f"{base}/builds?{build}&strip={','.join(strip or [])}")
    page.wait_for_function("window.ready")
    assert page.evaluate("unstripped") == [], "the page still has these"


def echo(page: Page, count: int, **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("([o, n]) => echo(o, n)", [options, count])
    return result


@pytest.fixture(scope="module")
def refusing_server() -> Iterator[str]:
    """The test app with an authentication hook that refuses everyone."""

    async def refuse(connection: Any) -> None:
        return None

    site, _ = make_app(authenticate=refuse)
    with uvicorn_server(site) as base:
        yield base


def test_legacy_build_on_a_page_without_modern_apis(page: Page, echo_server: str) -> None:
    load(page, echo_server, "legacy", STRIPPED)
    result = echo(page, 500)
    assert result["outcome"] == "end", result["events"]
    assert result["transport"] == "longpoll"
    assert result["messages"] == expected_echo(500)
    assert [e["type"] for e in result["events"]] == ["open"]
    binary = page.evaluate("o => binary(o)", {})
    assert binary["received"] == [list(range(256)), list(range(250, 256)), [1, 2, 3], "text"]


def test_legacy_build_over_sse_without_fetch(page: Page, echo_server: str) -> None:
    """EventSource down, XMLHttpRequest up."""
    load(page, echo_server, "legacy", ["fetch", "AbortController", "WebSocket"])
    result = echo(page, 500)
    assert (result["outcome"], result["transport"]) == ("end", "sse"), result["events"]
    assert result["messages"] == expected_echo(500)
    assert [e["type"] for e in result["events"]] == ["open"]


@pytest.mark.parametrize("build", ["module", "script", "legacy"])
def test_every_build_delivers_over_each_transport(page: Page, echo_server: str, build: str) -> None:
    load(page, echo_server, build)
    for transport in ["websocket", "sse", "longpoll"]:
        result = echo(page, 100, transports=[transport])
        assert (result["outcome"], result["transport"]) == ("end", transport), result["events"]
        assert result["messages"] == expected_echo(100)


def fatal(page: Page, negotiations: int, **options: Any) -> dict[str, Any]:
    """The error event of a client that cannot work, which must end: an error, then a close
    with the same code and reason, and nothing else; and ``negotiations`` requests, not one
    more after a while (the retry delay is made ~1 ms, so that a retry would come at once)."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/negotiate" in r.url else None)
    result = page.evaluate("o => fatal(o)", {"reconnectDelay": 1, **options})
    events: list[dict[str, Any]] = result["events"]
    assert [e["type"] for e in events] == ["error", "close"], events
    assert result["readyState"] == 3
    error, close = events
    assert (error["code"], error["reason"]) == (close["code"], close["reason"])
    page.wait_for_timeout(300)  # nothing to wait for: no retry must come
    assert page.evaluate("window.events.length") == 2
    assert len(requests) == negotiations, requests
    return error


@pytest.mark.parametrize("build", ["module", "legacy"])
def test_no_transport_in_common(page: Page, echo_server: str, build: str) -> None:
    load(page, echo_server, build, ["WebSocket"])
    error = fatal(page, 1, transports=["websocket"])
    assert (error["code"], error["reason"]) == (
        1006,
        "no transport in common: server [websocket], client []",
    )


@pytest.mark.parametrize(
    ("build", "missing"),
    [("module", ["fetch"]), ("script", ["fetch"]), ("legacy", ["fetch", "XMLHttpRequest"])],
)
def test_a_required_api_missing(
    page: Page, echo_server: str, build: str, missing: list[str]
) -> None:
    load(page, echo_server, build, missing)
    error = fatal(page, 0)
    assert (error["code"], error["reason"]) == (1006, "fetch is missing")


@pytest.mark.parametrize("build", ["module", "legacy"])
def test_authentication_refused(page: Page, refusing_server: str, build: str) -> None:
    load(page, refusing_server, build)
    error = fatal(page, 1)
    assert (error["code"], error["reason"]) == (4007, "authentication required")
