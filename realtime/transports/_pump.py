"""The downstream loop shared by the streaming transports (WebSocket and SSE).

It waits for work, then writes, in this order: owed control frames (ack, pong, ping), the
session's pending messages, and finally the close, or a reconnect frame when the connection
must end while the session lives on. Each write is bounded by ``send_timeout``: a client
that stops reading loses its connection (it resumes later), never the server's memory.
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
    while True:
        event.clear()
        if conn.ended is not None:
            await writer.end(Reconnect(*conn.ended))
            return
        try:
            pending = await backend.pending(session_id, cursor, app.max_batch, WRITE_BATCH_BYTES)
        except ReplayGap as gap:
            # The client acknowledged messages this connection has not written: an older
            # connection still delivering got them to it. Nothing to send again: skip ahead.
            cursor = gap.first_available - 1
            continue
        now = loop.time()
        proto.delivered(pending.ack, now)
        control = proto.due(now)
        messages = pending.messages
        async with asyncio.timeout(app.send_timeout):
            if control:
                await writer.write_control(control)
            if messages:
                await writer.write_messages(messages)
                cursor = messages[-1][0]
        proto.sent(len(control) + len(messages), now)
        if pending.close is not None:
            await writer.end(Close(*pending.close))
            return
        if proto.is_dead(now) and not await still_alive():
            await writer.end(Reconnect(CloseCode.PING_TIMEOUT, "no sign of life from the client"))
            return
        if messages or event.is_set():
            continue  # more messages may wait
        deadline = proto.next_deadline()
        if deadline is None:
            await event.wait()
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    await event.wait()
            except TimeoutError:
                pass
