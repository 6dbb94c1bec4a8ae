"""The session token stays out of URLs (issue 17, row 6), against a real server on both
backends: a URL with the token is refused on every transport, a WebSocket may offer the token
as a subprotocol, and an event stream's ticket opens one stream of its own session, once.
Before, the token rode in WebSocket and event-stream URLs for the session's whole life, and
a URL read in any log resumed the session."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from realtime import RealtimeApp, Session
from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend
from tests.integration.rawclient import RawSession, hello_ack, negotiate
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TOKEN = "x-realtime-token"
NO_TOKEN_IN_URLS = "no token in URLs: send it in the X-Realtime-Token header, or a ticket"


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


@pytest.fixture(params=["memory", "redis"])
def base(request: pytest.FixtureRequest) -> Iterator[str]:
    backend: Backend = MemoryBackend()
    if request.param == "redis":
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        backend = RedisBackend(url, prefix=f"tokens-{secrets.token_hex(4)}")
    app = RealtimeApp(echo, backend=backend)
    with uvicorn_server(Starlette(routes=[Mount("/rt", app)], lifespan=app.lifespan)) as url:
        yield f"{url}/rt"


def ws_url(session: RawSession, **params: object) -> str:
    return "ws" + session.url("websocket", **params).removeprefix("http")


async def test_a_url_with_the_token_is_refused_on_every_transport(base: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, base)
        for transport in ("sse", "longpoll"):
            response = await http.get(session.url(transport, token=session.token, open=1))
            assert (response.status_code, response.json()["code"]) == (403, 4003)
            assert response.json()["error"].startswith(NO_TOKEN_IN_URLS)
        # Even beside a good credential: the URL has leaked it already, so say so.
        response = await http.get(
            session.url("longpoll", token=session.token, open=1), headers=session.headers
        )
        assert response.status_code == 403
        async with ws_connect(ws_url(session, token=session.token)) as websocket:
            close = await websocket.recv()
        assert str(close).startswith("c4003:" + NO_TOKEN_IN_URLS)
        assert (await session.poll(http, open=1))[0].startswith("h")  # the session lives


async def test_a_browser_websocket_offers_the_token_as_a_subprotocol(base: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, base)
    offered = [Subprotocol("realtime"), Subprotocol(f"realtime-token.{session.token}")]
    async with ws_connect(ws_url(session, last=0), subprotocols=offered) as websocket:
        assert websocket.subprotocol == "realtime"  # the one the server selects
        assert hello_ack(await websocket.recv()) == 0
        await websocket.send("d1:hello")
        assert await websocket.recv() == "d1:hello"
    wrong = [Subprotocol("realtime"), Subprotocol("realtime-token.not-the-token")]
    async with ws_connect(ws_url(session, last=1), subprotocols=wrong) as websocket:
        assert str(await websocket.recv()).startswith("c4003:")


async def test_an_event_stream_ticket_opens_one_stream_of_its_session_once(base: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = (await http.post(f"{base}/negotiate", json={})).json()
        session = RawSession(base, answer["sid"], answer["token"])
        other = await negotiate(http, base)
        ticket = answer["ticket"]
        assert ticket and ticket != session.token
        wrong = await http.get(other.url("sse", ticket=ticket))  # another session's URL
        assert (wrong.status_code, wrong.json()["code"]) == (403, 4003)
        async with http.stream("GET", session.url("sse", ticket=ticket)) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                if line.startswith("data: h"):
                    break
        # The URL is dead once used: read from a log, it opens nothing.
        replayed = await http.get(session.url("sse", ticket=ticket))
        assert (replayed.status_code, replayed.json()["code"]) == (403, 4003)
        fresh = await session.ticket(http)
        assert fresh != ticket
        async with http.stream("GET", session.url("sse", ticket=fresh)) as stream:
            assert stream.status_code == 200
        assert (await http.get(session.url("sse", ticket=fresh))).status_code == 403


async def test_a_ticket_is_given_only_for_the_token(base: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, base)
        json_type = {"content-type": "application/json"}
        for headers in ({}, {"x-realtime-token": "not-the-token"}):
            refused = await http.post(session.url("ticket"), headers={**json_type, **headers})
            assert (refused.status_code, refused.json()["code"]) == (403, 4003)
            assert "ticket" not in refused.json()
        cross_site = await http.post(session.url("ticket"), headers=session.headers)
        assert cross_site.status_code == 415  # a JSON POST: no cross-site form can ask


async def test_the_token_rotates_on_resume(base: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, base)
        handed_out: list[str] = []
        for _ in range(2):  # two connections raced, as a client's transports may
            async with session.websocket() as websocket:
                hello = json.loads(str(await websocket.recv())[1:])
            handed_out.append(hello["token"])
        first, second = handed_out
        assert session.token not in handed_out and first != second
        resumed = RawSession(base, session.sid, first)  # the next connection presents it
        assert hello_ack((await resumed.poll(http, open=1))[0]) == 0
        # The one handed out but never used is dead; the old one lives for requests in
        # flight (TOKEN_GRACE; its end is tested on both backends in tests/backends).
        response = await http.get(session.url("longpoll", open=1), headers={TOKEN: second})
        assert (response.status_code, response.json()["code"]) == (403, 4003)
        assert (await session.post(http, "longpoll", ["d1:in flight"])).status_code == 200


async def test_tickets_cost_frame_rate() -> None:
    app = RealtimeApp(echo, max_burst=2, max_frame_rate=1.0)  # bursts of 4 frames
    with uvicorn_server(Starlette(routes=[Mount("/rt", app)], lifespan=app.lifespan)) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            session = await negotiate(http, f"{url}/rt")
            statuses = []
            for _ in range(6):
                asked = await http.post(
                    session.url("ticket"),
                    headers={**session.headers, "content-type": "application/json"},
                )
                statuses.append(asked.status_code)
    assert statuses[:4] == [200] * 4 and 429 in statuses[4:], statuses
