"""Logs and metrics: one line per session open, resume and close; a hook for counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import realtime.client
from realtime import RealtimeApp, Session
from realtime.backends.base import SessionInfo
from realtime.observe import Event, Observer, Recorder, combine, logfmt, parse_fallback, user_id
from realtime.testing import FaultProxy
from realtime.types import SessionId
from tests.integration.rawclient import negotiate
from tests.servers import uvicorn_server


def test_fallback_labels_are_checked() -> None:
    assert parse_fallback("websocket:open") == ("websocket", "open")
    assert parse_fallback("sse:hello") == ("sse", "hello")
    for junk in (None, "", "websocket", "ftp:open", "sse:whatever", "sse:open:x"):
        assert parse_fallback(junk) is None


def test_logfmt_quotes_what_needs_it() -> None:
    assert logfmt({"a": 1, "b": "two words", "c": None, "d": ""}) == 'a=1 b="two words" d=""'


@pytest.mark.expected_errors
def test_a_failing_metrics_hook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: str, labels: Mapping[str, str]) -> None:
        raise RuntimeError("the metrics server is down")

    with caplog.at_level(logging.ERROR, logger="realtime.sessions"):
        Observer(broken).expired("sid")  # type: ignore[arg-type]
    assert "the metrics hook failed on session.expired" in caplog.text


class Account:
    def __init__(self, id: object) -> None:
        self.id = id


def test_user_ids() -> None:
    assert user_id("ada") == "ada"
    assert user_id(42) == "42"
    assert user_id({"id": 7, "token": "secret"}) == "7"
    assert user_id(Account("u-1")) == "u-1"
    for nothing in (None, True, object(), {"name": "ada"}, Account(None), Account(["x"])):
        assert user_id(nothing) is None, nothing


def test_the_user_id_is_in_the_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="realtime.sessions")
    observer = Observer()
    sid = SessionId("s1")
    observer.connected(sid, "sse", first=True, client="10.0.0.7", user={"id": "ada lovelace"})
    observer.connected(sid, "websocket", first=False, user=Account(3))
    observer.closed(sid, "websocket", 1000, "", user="ada")
    observer.connected(SessionId("s2"), "sse", first=False)
    assert [r.getMessage() for r in caplog.records] == [
        'session opened session_id=s1 transport=sse user="ada lovelace" client=10.0.0.7',
        "session resumed session_id=s1 transport=websocket user=3",
        'session closed session_id=s1 transport=websocket user=ada code=1000 reason=""',
        "session resumed session_id=s2 transport=sse",
    ]
    assert caplog.records[0].user == "ada lovelace"  # type: ignore[attr-defined]


class Events(Recorder):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.expected_errors
def test_combined_hooks_each_get_every_event(caplog: pytest.LogCaptureFixture) -> None:
    plain: list[tuple[str, dict[str, str]]] = []
    whole = Events()

    def broken(event: str, labels: Mapping[str, str]) -> None:
        raise RuntimeError("down")

    observer = Observer(combine(broken, lambda e, labels: plain.append((e, dict(labels))), whole))
    observer.connected(SessionId("s1"), "sse", first=True, user="ada", fallback="websocket:hello")
    observer.published("lobby", recipients=2, size=3)
    assert plain == [
        ("session.opened", {"transport": "sse"}),
        ("transport.fallback", {"transport": "websocket", "to": "sse", "reason": "hello"}),
        ("room.published", {}),
    ]
    opened, fallback, published = whole.events
    assert (opened.session_id, opened.user, opened.duration) == ("s1", "ada", None)
    assert opened.details == {"fallback": "websocket:hello"}
    assert published.details == {"room": "lobby", "recipients": 2, "size": 3}
    assert caplog.text.count("the metrics hook failed") == 3
    whole("session.expired", {})  # a recorder is a plain hook too
    assert whole.events[-1].name == "session.expired"


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


events: list[tuple[str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[str]:
    events.clear()
    app = RealtimeApp(echo, metrics=lambda event, labels: events.append((event, dict(labels))))
    with uvicorn_server(Starlette(routes=[Mount("/rt", app)], lifespan=app.lifespan)) as url:
        yield url


@pytest.mark.anyio
async def test_fallback_resume_and_close_are_logged_and_counted(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="realtime.sessions")
    async with FaultProxy(int(server.rsplit(":", 1)[1])) as proxy:
        proxy.reject_websockets = True  # a proxy that drops the upgrade: the client falls back
        url = f"http://127.0.0.1:{proxy.port}/rt"
        async with realtime.client.connect(url, backoff_initial=0.02, open_timeout=2) as conn:
            assert conn.transport == "sse"
            await conn.send("one")
            assert await asyncio.wait_for(conn.receive(), 10) == "one"
            proxy.cut()
            await conn.send("two")
            assert await asyncio.wait_for(conn.receive(), 10) == "two"
            session_id = conn.session_id
    async with asyncio.timeout(10):
        while not any(event == "session.closed" for event, _ in events):
            await asyncio.sleep(0.01)
    assert events[:3] == [
        ("session.negotiated", {"status": "200"}),
        ("session.opened", {"transport": "sse"}),
        ("transport.fallback", {"transport": "websocket", "to": "sse", "reason": "open"}),
    ]
    assert ("session.resumed", {"transport": "sse"}) in events  # after the cut
    assert events[-1] == ("session.closed", {"transport": "sse", "code": "1000"})
    lines = [r.getMessage() for r in caplog.records if r.name == "realtime.sessions"]
    assert lines[0].startswith(f"session opened session_id={session_id} transport=sse")
    assert lines[0].endswith("fallback=websocket:open")
    assert any(line.startswith(f"session resumed session_id={session_id}") for line in lines)
    assert lines[-1] == f'session closed session_id={session_id} transport=sse code=1000 reason=""'
    closed = [r for r in caplog.records if r.getMessage().startswith("session closed")][-1]
    assert (closed.session_id, closed.code) == (session_id, 1000)  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_publish_is_observed_with_its_room_recipients_and_size() -> None:
    seen: list[Event] = []

    class Keep(Recorder):
        def record(self, event: Event) -> None:
            seen.append(event)

    async def handler(session: Session) -> None:
        await session.receive()

    app = RealtimeApp(handler, metrics=Keep())
    backend = app.backend
    for name in ("a", "b"):
        info = SessionInfo(id=SessionId(name), token_hash="0" * 64, created=0.0)
        await backend.create(info, 0.0)
        await backend.join(info.id, "lobby")
    assert await app.hub.publish("lobby", "héllo") == 2
    (published,) = [event for event in seen if event.name == "room.published"]
    assert published.details == {"room": "lobby", "recipients": 2, "size": 6}
    assert published.duration is not None and published.duration >= 0


@pytest.mark.anyio
async def test_a_close_reason_cannot_forge_a_log_line(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The reason a client gives travels into the "session closed" line: a line break in it
    # must not start a line of its own that reads like the server's.
    caplog.set_level(logging.INFO, logger="realtime.sessions")
    forged = "bye\nsession opened session_id=forged transport=websocket\x1b[2K"
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/rt")
        async with session.websocket() as websocket:
            assert str(await websocket.recv()).startswith("h")
            await websocket.send(f"c4100:{forged}")
            assert str(await websocket.recv()).startswith("c4100:bye\n")
    async with asyncio.timeout(10):
        while not any("session closed" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "realtime.sessions"]
    assert all("\n" not in line and "\x1b" not in line for line in lines), lines
    closed = next(line for line in lines if line.startswith("session closed"))
    assert closed.endswith(
        'reason="bye\\nsession opened session_id=forged transport=websocket\\x1b[2K"'
    )
