"""The engine's downstream pump, in process, on the memory backend."""

from __future__ import annotations

import asyncio

import pytest

from realtime import RealtimeApp, Session
from realtime.backends.base import SessionInfo
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import Close, Frame, Reconnect
from realtime.server.engine import Channel
from realtime.types import SessionId

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[int, str | bytes]] = []
        self.control: list[Frame] = []
        self.ended: Close | Reconnect | None = None
        self.changed = asyncio.Event()

    async def write_control(self, frames: list[Frame]) -> None:
        self.control += frames

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        self.messages += messages
        self.changed.set()

    async def end(self, frame: Close | Reconnect, last: int = 0) -> None:
        self.ended = frame


async def handler(session: Session) -> None:
    pass


@pytest.mark.timeout(10)  # the bug this guards against spins forever without yielding
async def test_skips_what_the_client_acknowledged_through_another_connection() -> None:
    app = RealtimeApp(handler, ping_interval=None)
    backend = app.backend
    session_id = SessionId("s")
    await backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
    for i in range(1, 6):
        await backend.push(session_id, f"m{i}", 2, 0)
    channel = Channel(session_id, "sse")
    await backend.attach(session_id, channel, "sse", 0, 0.0)
    # An older connection, still open, delivered 1-3 and the client acknowledged them (by
    # POST) before this connection wrote anything.
    await backend.ack(session_id, 3)
    writer = Recorder()
    proto = ConnectionProtocol(is_server=True, now=asyncio.get_running_loop().time())
    task = asyncio.create_task(app.engine.pump(channel, proto, 0, writer))
    async with asyncio.timeout(5):
        while len(writer.messages) < 2:
            writer.changed.clear()
            await writer.changed.wait()
    await backend.close(session_id, 1000, "done")
    await asyncio.wait_for(task, 5)
    assert writer.messages == [(4, "m4"), (5, "m5")]
    assert writer.ended == Close(1000, "done")
