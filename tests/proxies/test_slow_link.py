"""On a slow link the client keeps a working transport: with 300 ms of added round trip
(a relay delaying every byte 150 ms each way, in front of the page and the app alike) it
stays on WebSocket, and on SSE where WebSocket is missing. A fallback that races the next
transport too early would leave them for long-polling here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Playwright

from tests.proxies.drive import Outcome, chromium_page, echoes, expected
from tests.proxies.relay import DelayRelay
from tests.servers import port_of

pytestmark = pytest.mark.browser

ROUND_TRIP = 0.3
NO_WEBSOCKET = "delete window.WebSocket;"


@pytest.fixture(scope="module")
def relay(site: str) -> Iterator[DelayRelay]:
    with DelayRelay(port_of(site), delay=ROUND_TRIP / 2) as relay:
        yield relay


@pytest.fixture(scope="module")
def slow_site(relay: DelayRelay) -> str:
    return f"http://127.0.0.1:{relay.port}"


def test_the_relay_adds_the_round_trip(slow_site: str) -> None:
    """Without this, the tests below would prove nothing. (A lower bound: it cannot flake.)"""
    with httpx.Client() as client:
        client.get(slow_site + "/")  # connected: the next request is one round trip
        start = time.monotonic()
        assert client.get(slow_site + "/").status_code == 200
        assert time.monotonic() - start >= ROUND_TRIP


def test_websocket_stays_on_a_slow_link(
    playwright: Playwright, slow_site: str, report: Callable[[Outcome], None]
) -> None:
    with chromium_page(playwright) as page:
        outcome = echoes(page, slow_site)
    report(outcome)
    assert (outcome.transport, outcome.fallbacks) == ("websocket", [])
    assert outcome.received == expected()
    assert outcome.types == ["open"]


def test_sse_stays_on_a_slow_link(
    playwright: Playwright, slow_site: str, report: Callable[[Outcome], None]
) -> None:
    with chromium_page(playwright) as page:
        outcome = echoes(page, slow_site, init_script=NO_WEBSOCKET)
    report(outcome)
    assert (outcome.transport, outcome.fallbacks) == ("sse", [])
    assert outcome.received == expected()
    assert outcome.types == ["open"]
