"""How a session sorts its peer's messages (realtime.events.Router), with a real MemoryBackend
under a real Session: a kind the handler reads waits for it (backpressure), a kind it never
reads ends the session with 1003, and a plain receive() in flight hands over to a call."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from realtime.backends.base import SessionInfo
from realtime.backends.memory import MemoryBackend
from realtime.exceptions import SessionClosed
from realtime.protocol.events import Envelope, encode_event, encode_reply
from realtime.server.hub import Hub
from realtime.server.session import Session
from realtime.server.settings import Settings
from realtime.types import SessionId

pytestmark = pytest.mark.anyio

SID = SessionId("s1")


async def open_session(max_queue: int = 4) -> tuple[MemoryBackend, Session[None]]:
    backend = MemoryBackend()
    info = SessionInfo(id=SID, token_hash="", created=0.0, max_queue=max_queue)
    await backend.create(info, 0.0)
    settings = Settings(max_queue=max_queue, max_rate=None)
    session: Session[None] = Session(
        info, backend=backend, settings=settings, hub=Hub(backend, None)
    )
    return backend, session


class Peer:
    """The client's side, straight into the backend: numbered messages to the handler."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.seq = 0

    async def send(self, data: str | bytes) -> None:
        """Send within the window, as a client does: wait (a bounded while) for room."""
        state = self.backend._sessions[SID].state
        for _ in range(100):
            if state.closed or state.inbox_has_room(len(data)):
                break
            await asyncio.sleep(0)
        else:
            raise AssertionError("the window stayed full")
        self.seq += 1
        await self.backend.deliver(SID, self.seq, data, len(data), 0.0)

    async def unread(self) -> int:
        state = self.backend._sessions[SID].state
        return state.unread


async def settle() -> None:
    for _ in range(20):  # let every task that can run, run
        await asyncio.sleep(0)


async def test_a_kind_the_handler_reads_waits_for_it_and_holds_back_the_rest() -> None:
    backend, session = await open_session(max_queue=2)
    peer = Peer(backend)
    await peer.send("r0")
    assert await session.receive() == "r0"  # the handler reads raw messages
    waiting = asyncio.create_task(session.next_event())
    for text in ("r1", "r2", "r3"):
        await peer.send(text)
    await peer.send(encode_event("e", 1))
    await settle()
    assert not waiting.done()
    assert await peer.unread() == 1  # the event is still in the backend: not read, not acked
    assert await session.receive() == "r1"  # room for the held r3: the event can come
    event = await asyncio.wait_for(waiting, 5)
    assert (event.name, event.data) == ("e", 1)
    assert [await session.receive() for _ in range(2)] == ["r2", "r3"]


async def test_a_kind_the_handler_never_reads_ends_the_session_with_1003() -> None:
    backend, session = await open_session(max_queue=2)
    peer = Peer(backend)
    waiting = asyncio.create_task(session.next_event())
    with contextlib.suppress(SessionClosed):  # it may end before the last ones
        for text in ("r0", "r1", "r2", "r3"):
            await peer.send(text)
    with pytest.raises(SessionClosed) as ended:
        await asyncio.wait_for(waiting, 5)
    assert (ended.value.code, ended.value.reason) == (
        1003,
        "2 raw messages wait and the application reads none",
    )


async def test_a_receive_in_flight_hands_over_to_a_call_and_keeps_the_order() -> None:
    backend, session = await open_session()
    peer = Peer(backend)
    reading = asyncio.create_task(session.receive())  # the plain path: no router yet
    await settle()
    calling = asyncio.create_task(session.call("ask", {"q": 1}, timeout=5))
    await settle()
    sent = backend._sessions[SID].state.pending(0)
    assert len(sent) == 1 and type(sent[0][1]) is Envelope
    call_id = json.loads(sent[0][1])["i"]
    await peer.send("m1")
    await peer.send(encode_reply(call_id, "answer"))
    await peer.send("m2")
    assert await asyncio.wait_for(calling, 5) == "answer"
    assert await asyncio.wait_for(reading, 5) == "m1"
    assert await session.receive() == "m2"


async def test_a_pending_call_fails_when_the_session_ends() -> None:
    backend, session = await open_session()
    calling = asyncio.create_task(session.call("ask", timeout=5))
    await settle()
    await backend.close(SID, 4321, "app over")
    with pytest.raises(SessionClosed) as ended:
        await asyncio.wait_for(calling, 5)
    assert ended.value.code == 4321
