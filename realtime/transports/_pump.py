"""The downstream loop shared by the streaming transports (WebSocket and SSE).

It waits for work, then writes, in this order: owed control frames (ack, pong, ping), the
session's pending messages, and finally the close, or a reconnect frame when the connection
must end while the session lives on. Each write is bounded by ``send_timeout`` (the task is
cancelled past it): a client that stops reading loses its connection (it resumes later),
never the server's memory.

This loop runs once per message on a busy connection, so it avoids ``asyncio.timeout``
contexts (costly on this path) in favour of plain timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from realtime.protocol.buffer import ReplayGap
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import Close, CloseCode, Frame, Reconnect
from realtime.transports.base import Connection
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["StreamWriter", "pump"]

WRITE_BATCH_BYTES = 2**20
"""Bytes of messages taken from the backend per write batch (one message always goes)."""


class StreamWriter(Protocol):
    async def write_control(self, frames: list[Frame]) -> None: ...

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None: ...

    async def end(self, frame: Close | Reconnect) -> None:
        """Write the last frame and end the connection."""


async def _never_alive() -> bool:
    return False


async def pump(
    app: RealtimeApp,
    session_id: SessionId,
    conn: Connection,
    proto: ConnectionProtocol,
    cursor: int,
    writer: StreamWriter,
    still_alive: Callable[[], Awaitable[bool]] = _never_alive,
) -> None:
    """Write the session's frames to one connection until it ends.

    ``still_alive`` is asked when ``proto`` finds the peer silent for too long; the SSE
    transport uses it to look for signs of life that arrived by POST.
    """
    loop = asyncio.get_running_loop()
    backend = app.backend
    event = conn.event
    me = asyncio.current_task()
    assert me is not None
    alarm: asyncio.TimerHandle | None = None  # sets ``event`` at the next deadline...
    alarm_at: float | None = None  # ...which is this (uvloop's handles do not say)

    def ring() -> None:
        # The timer clears itself: uvloop may fire a little before its deadline, and an
        # alarm kept after firing would never wake this loop again.
        nonlocal alarm
        alarm = None
        event.set()

    try:
        while True:
            event.clear()
            if conn.ended is not None:
                await writer.end(Reconnect(*conn.ended))
                return
            try:
                pending = await backend.pending(
                    session_id, cursor, app.max_batch, WRITE_BATCH_BYTES
                )
            except ReplayGap as gap:
                # The client acknowledged messages this connection has not written: an older
                # connection still delivering got them to it. Nothing to send again: skip.
                cursor = gap.first_available - 1
                continue
            now = loop.time()
            proto.delivered(pending.ack, now)
            control = proto.due(now)
            messages = pending.messages
            if control or messages:
                # A client that stops reading must not hold this task for ever.
                guard = None
                if app.send_timeout is not None:
                    guard = loop.call_later(app.send_timeout, me.cancel)
                try:
                    if control:
                        await writer.write_control(control)
                    if messages:
                        await writer.write_messages(messages)
                        cursor = messages[-1][0]
                finally:
                    if guard is not None:
                        guard.cancel()
                proto.sent(len(control) + len(messages), now)
            if pending.close is not None:
                await writer.end(Close(*pending.close))
                return
            if proto.is_dead(now) and not await still_alive():
                await writer.end(
                    Reconnect(CloseCode.PING_TIMEOUT, "no sign of life from the client")
                )
                return
            if pending.more or event.is_set():
                continue
            deadline = proto.next_deadline()
            if alarm is not None and alarm_at != deadline:
                alarm.cancel()
                alarm = None
            if alarm is None and deadline is not None:
                alarm = loop.call_at(deadline, ring)  # a deadline wakes like news does
                alarm_at = deadline
            await event.wait()
    finally:
        if alarm is not None:
            alarm.cancel()
