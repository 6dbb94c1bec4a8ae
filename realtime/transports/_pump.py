"""The downstream loop shared by the streaming transports (WebSocket and SSE).

It waits for work, then writes, in this order: owed control frames (ack, pong, ping), the
session's pending messages, and finally the close, or a reconnect frame when the connection
must end while the session lives on. Each write is bounded by ``send_timeout`` (the task is
cancelled past it): a client that stops reading loses its connection (it resumes later),
never the server's memory.

This loop runs once per message on a busy connection, so it sets no timer per message: one
watchdog checks the write in progress, and one alarm wakes the loop at the protocol's next
deadline. Both stay armed while deadlines only move later (as heartbeat deadlines do with
every frame); a timer that fires early just has the loop look again and re-arm it.
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
    send_timeout = app.send_timeout
    me = asyncio.current_task()
    assert me is not None
    writing_since: float | None = None  # when the write in progress began
    watchdog: asyncio.TimerHandle | None = None  # ends this task if that write hangs
    alarm: asyncio.TimerHandle | None = None  # sets ``event`` at the next deadline...
    alarm_at = 0.0  # ...which is this (uvloop's handles do not say)

    def check_write() -> None:
        nonlocal watchdog
        watchdog = None
        if writing_since is None or send_timeout is None:
            return  # idle: the next write arms the watchdog again
        late = writing_since + send_timeout
        if loop.time() >= late:
            me.cancel()  # a client that stops reading must not hold this task for ever
        else:
            watchdog = loop.call_at(late, check_write)

    def ring() -> None:
        # Timers clear themselves when they fire: uvloop may fire one a little early, and
        # a handle kept after firing would never wake this loop again.
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
                writing_since = now
                if watchdog is None and send_timeout is not None:
                    watchdog = loop.call_at(now + send_timeout, check_write)
                if control:
                    await writer.write_control(control)
                if messages:
                    await writer.write_messages(messages)
                    cursor = messages[-1][0]
                writing_since = None
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
            if deadline is not None and (alarm is None or deadline < alarm_at):
                if alarm is not None:
                    alarm.cancel()
                alarm = loop.call_at(deadline, ring)  # a deadline wakes like news does
                alarm_at = deadline
            await event.wait()
    finally:
        for timer in (alarm, watchdog):
            if timer is not None:
                timer.cancel()
