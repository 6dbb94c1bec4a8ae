"""The JS client in Chromium through real forward proxies, as a new user behind one gets it:
the transport it ends on, every message once and in order, and the time to first message
(reported at the end of the run, never asserted).

- privoxy with Debian's defaults tunnels WebSocket (CONNECT) but holds back an event stream
  entirely, headers included, until it ends; refusing CONNECT to ports but 443 as well, it
  leaves the client nothing but long-polling, which races the held stream after `raceAfter`
  (750 ms): the first message comes in about 0.8-1 s, against 5 s with the open timeout.
- squid with Debian's rules refuses CONNECT to ports but 443, and Chromium tunnels ``ws://``
  through a forward proxy with CONNECT: WebSocket fails, event streams flow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Playwright

from tests.proxies.drive import Outcome, chromium_page, echoes, expected
from tests.proxies.launch import privoxy, squid
from tests.servers import port_of

pytestmark = pytest.mark.browser

Report = Callable[[Outcome], None]


def test_websocket_through_privoxy(playwright: Playwright, site: str, report: Report) -> None:
    with privoxy() as proxy, chromium_page(playwright, proxy.port) as page:
        outcome = echoes(page, site)
        log = proxy.logged()
    report(outcome)
    assert f"Request: 127.0.0.1:{port_of(site)}/realtime/negotiate" in log
    assert (outcome.transport, outcome.fallbacks) == ("websocket", [])
    assert outcome.received == expected()
    assert outcome.types == ["open"]


def test_longpoll_through_privoxy_buffering_and_refusing_websocket(
    playwright: Playwright, site: str, report: Report
) -> None:
    with privoxy(connect_only_443=True) as proxy, chromium_page(playwright, proxy.port) as page:
        outcome = echoes(page, site)
        log = proxy.logged()
    report(outcome)
    # The client did try the stream, which privoxy held back; it long-polls through privoxy.
    assert f"Request: 127.0.0.1:{port_of(site)}/realtime/sse?" in log
    assert f"Request: 127.0.0.1:{port_of(site)}/realtime/longpoll?" in log
    assert (outcome.transport, outcome.fallbacks) == ("longpoll", ["websocket", "sse"])
    assert outcome.received == expected()
    # The stream's hello leaves privoxy only when the server ends the stream, because the
    # racing long-poll took the session: when that hello beats the long-poll's, the client
    # opens on SSE and hands the session to long-polling at once. Never a reconnect.
    assert outcome.types in (["open"], ["open", "transportchange"])


def test_sse_through_squid_refusing_websocket(
    playwright: Playwright, site: str, report: Report
) -> None:
    with squid() as proxy, chromium_page(playwright, proxy.port) as page:
        outcome = echoes(page, site)
        log = proxy.logged()
    report(outcome)
    assert re.search(rf"TCP_DENIED/403 \d+ CONNECT 127\.0\.0\.1:{port_of(site)} ", log)
    assert f"POST http://127.0.0.1:{port_of(site)}/realtime/negotiate" in log
    assert (outcome.transport, outcome.fallbacks) == ("sse", ["websocket"])
    assert outcome.received == expected()
    assert outcome.types == ["open"]
