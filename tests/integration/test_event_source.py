"""A native EventSource's life against the server (PROTOCOL.md 5.2), on both backends.

An ``EventSource`` sends ``Last-Event-ID`` once it has seen an id, reconnects whenever its
stream ends, and stops only on an answer that is not ``200`` with an event stream (``204`` is
how a server says "stop"). Its URL carries a single-use ticket, so a page gives each
connection a fresh one (the JavaScript client does; a URL used again is refused with 403).
:class:`EventSourceLike` does the same, so these tests see what a browser would: how many
times it comes back, and what it gets.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from realtime.protocol.sse import SSEParser
from tests.integration.rawclient import RawSession, negotiate

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class EventSourceLike:
    """The reconnection logic of the WHATWG ``EventSource``, without the retry delay."""

    def __init__(self, session: RawSession) -> None:
        self.session = session
        self.statuses: list[int] = []
        self.frames: list[str] = []
        self.received = asyncio.Event()
        self._parser = SSEParser()

    async def run(self, http: httpx.AsyncClient, max_connections: int = 6) -> None:
        """Connect, read, reconnect, until told to stop or ``max_connections`` were made."""
        for _ in range(max_connections):
            headers = {"accept": "text/event-stream"}
            if self._parser.last_event_id is not None:
                headers["last-event-id"] = self._parser.last_event_id
            url = self.session.url("sse", ticket=await self.session.ticket(http))
            async with http.stream("GET", url, headers=headers) as response:
                self.statuses.append(response.status_code)
                if response.status_code != 200:
                    return  # an EventSource fails for good
                async for chunk in response.aiter_bytes():
                    for event in self._parser.feed(chunk):
                        self.frames.append(event.data)
                        self.received.set()

    async def next_frame(self, prefix: str) -> str:
        async with asyncio.timeout(10):
            while True:
                found = [frame for frame in self.frames if frame.startswith(prefix)]
                if found:
                    return found[-1]
                self.received.clear()
                await self.received.wait()


def source(session: RawSession) -> EventSourceLike:
    return EventSourceLike(session)


async def test_a_session_closed_before_any_data_stops_its_event_source(server: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, f"{server}/commands")
        posted = await session.post(http, "sse", ["d1:close 4100 done before any data"])
        assert posted.status_code == 200
        events = source(session)
        await asyncio.wait_for(events.run(http), 20)
    # Once with the hello and the close, then told to stop: not a reconnection a second.
    assert events.statuses == [200, 204]
    assert events.frames[0].startswith("h")
    assert events.frames[-1] == "c4100:done before any data"


async def test_a_session_closed_after_data_stops_its_event_source_once_told(server: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, f"{server}/commands")
        events = source(session)
        reading = asyncio.create_task(events.run(http))
        await events.next_frame("h")
        posted = await session.post(http, "sse", ["d1:stream 2", "d2:close 4101 bye"])
        assert posted.status_code == 200
        await asyncio.wait_for(reading, 20)
    assert events.statuses == [200, 204]
    assert [f for f in events.frames if f.startswith("d")] == ["d1:0", "d2:1"]
    assert events.frames[-1] == "c4101:bye"


async def test_an_event_source_replaced_by_another_stops_and_the_newer_one_keeps_going(
    server: str,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, f"{server}/echo")
        older, newer = source(session), source(session)
        first = asyncio.create_task(older.run(http))
        await older.next_frame("h")
        second = asyncio.create_task(newer.run(http))
        await asyncio.wait_for(first, 20)  # told to stop, it does not take the session back
        assert older.statuses == [200, 204]
        assert older.frames[-1].startswith("r4002:")
        posted = await session.post(http, "sse", ["d1:still here"])
        assert posted.status_code == 200
        assert await newer.next_frame("d") == "d1:still here"
        assert newer.statuses == [200]
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)


async def test_an_event_source_that_missed_the_close_learns_it_on_reconnection(
    server: str,
) -> None:
    # Its stream dropped after message 1 and before the close: it comes back with
    # Last-Event-ID 1 and gets the close, then stops.
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, f"{server}/commands")
        posted = await session.post(http, "sse", ["d1:stream 1", "d2:close 4102 later"])
        assert json.loads(posted.content)[0].startswith("a")
        url = session.url("sse", ticket=await session.ticket(http))
        async with http.stream(
            "GET", url, headers={"accept": "text/event-stream", "last-event-id": "1"}
        ) as response:
            assert response.status_code == 200
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert b"data: c4102:later" in body
    assert b"id: c1" in body
