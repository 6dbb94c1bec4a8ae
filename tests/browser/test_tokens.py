"""The session token never rides in a URL from the JavaScript client in a real Chromium
(issue 17, row 6): a WebSocket offers it as a subprotocol, an event stream's URL carries a
single-use ticket (a fresh one for each stream), long-polls and POSTs carry it in a header.
A server-side recorder sees every request, through a resume after the connections are cut: the
resume presents the token the first hello handed out (rotation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Response
from starlette.types import Receive, Scope, Send

from tests.browser.app import make_app
from tests.browser.proxy import Proxy
from tests.browser.test_client import load, numbers, send, start, wait_for_messages
from tests.servers import port_of, uvicorn_server

pytestmark = pytest.mark.browser

Seen = tuple[str, str, str, dict[str, str]]
"""A request the server received: its method (``WEBSOCKET`` for a handshake), path, query
string and headers."""


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[str, list[Seen]]]:
    seen: list[Seen] = []
    site, _ = make_app(max_queue=64)

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            query = scope["query_string"].decode("latin-1")
            method = scope.get("method", "WEBSOCKET")
            seen.append((method, scope["path"], query, headers))
        await site(scope, receive, send)

    with uvicorn_server(recording) as base:
        yield base, seen


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
def test_no_url_carries_the_token(
    page: Page, recorded: tuple[str, list[Seen]], transport: str
) -> None:
    base, seen = recorded
    tokens: list[str] = []

    def negotiation(response: Response) -> None:
        if response.url.endswith("/realtime/negotiate"):
            body: dict[str, Any] = response.json()
            tokens.append(body["token"])

    page.on("response", negotiation)
    with Proxy(port_of(base)) as cutter:
        load(page, f"http://127.0.0.1:{cutter.port}")
        del seen[:]
        assert start(page, transports=[transport]) == transport
        send(page, "stream 600 2", "end")
        wait_for_messages(page, 200)
        assert cutter.kill(outage=0.3) >= 1  # the client resumes on a new connection
        assert wait_for_messages(page, 601) == [*numbers(600), "end"]
    (token,) = tokens
    mine = [s for s in seen if s[1].startswith("/realtime/") and "negotiate" not in s[1]]
    presented = [t for t in map(presented_token, mine) if t is not None]
    assert presented and presented[0] == token, (presented, token)
    assert len(set(presented)) >= 2, "the resume presents the token the hello handed out"
    for method, path, query, _ in mine:
        assert "token=" not in query, (method, path, query)
        assert not any(secret in query or secret in path for secret in presented), query
    method = "WEBSOCKET" if transport == "websocket" else "GET"
    opening = [s for s in mine if s[0] == method and s[1] == f"/realtime/{transport}"]
    assert len(opening) >= 2  # the first connection and the resume
    if transport == "websocket":
        for *_, headers in opening:  # the token as a subprotocol, beside realtime
            assert headers["sec-websocket-protocol"].split(",")[0] == "realtime"
    elif transport == "sse":
        tickets = [q.split("ticket=")[1].split("&")[0] for _, _, q, _ in opening]
        assert len(set(tickets)) == len(tickets), tickets  # a fresh ticket for each stream
    else:
        assert all("x-realtime-token" in headers for *_, headers in opening)


def presented_token(seen: Seen) -> str | None:
    """The token a request presented: in its header, or as a WebSocket subprotocol."""
    headers = seen[3]
    if "x-realtime-token" in headers:
        return headers["x-realtime-token"]
    for offered in headers.get("sec-websocket-protocol", "").split(","):
        if offered.strip().startswith("realtime-token."):
            return offered.strip().removeprefix("realtime-token.")
    return None
