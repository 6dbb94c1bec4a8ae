"""The outgoing side of a session whose connection this process holds, kept in its memory.

With the Redis backend, a publish is appended once to the room's log and sent once to each
process that holds members' connections (:mod:`~realtime.backends.redis.roomlog`); a
``session.send`` is appended to the session's own log and sent to the process holding its
connection. Every such event carries its place ``g`` in one global order (the counter ``G``
that the scripts increment), and one process's notifications arrive in that order. So the
process holding a connection numbers the session's messages itself, as they come, in memory:
:class:`Outbox` is that numbering, the unacknowledged messages and the window.

Redis holds a *checkpoint* of it, ``(acked, acked_g)``: the session's messages with ``g`` up to
``acked_g`` are exactly its messages 1 to ``acked``. Any process recomputes the same numbering
from there by merging the session's own log and its rooms' logs (within the times it was in
each room) in ``g`` order: that is how a session resumes on another process, or after its
process died, with nothing lost and nothing doubled. The checkpoint is written when it changes
meaning (attach, detach, and acknowledgements batched every ``FLUSH_PERIOD``), never per
message.

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque

from realtime.backends.base import Listener, Pending
from realtime.exceptions import ProtocolError, ReplayGap, UnknownSession

__all__ = ["BUFFER_OVERFLOW_REASON", "CHECKPOINT_AGE", "CHECKPOINT_STRIDE", "Outbox"]

BUFFER_OVERFLOW_REASON = "too many unacknowledged messages"
CHECKPOINT_STRIDE = 256
"""Acknowledged messages after which a checkpoint is due (at most a quarter of the rooms'
logs, so that another process can always number the session from it)."""
CHECKPOINT_AGE = 5.0
"""Seconds after which a checkpoint is due once the client acknowledged anything."""


class Outbox:
    """A session's numbered, unacknowledged outgoing messages, on the process holding its
    connection.

    ``cursor`` is the ``g`` of the last event applied: events at or before it are known
    already (the attach's reading of the logs covered them) and are ignored.
    """

    __slots__ = (
        "acked",
        "acked_g",
        "bytes",
        "close",
        "closing",
        "consumed",
        "cursor",
        "directs",
        "gone",
        "head",
        "listener",
        "max_bytes",
        "max_count",
        "queue",
        "rooms",
        "session_id",
        "transport",
        "waiter",
        "written",
        "written_at",
    )

    def __init__(
        self,
        session_id: str,
        listener: Listener,
        *,
        acked: int,
        acked_g: int,
        cursor: int,
        consumed: int,
        rooms: dict[str, int],
        max_count: int | None,
        max_bytes: int | None,
    ) -> None:
        self.session_id = session_id
        self.listener = listener
        self.transport = ""
        self.acked = acked
        self.acked_g = acked_g
        self.head = acked
        """Number of the last message numbered."""
        self.cursor = cursor
        self.consumed = consumed
        """Last client message the handler read: the ack the client is owed."""
        self.rooms = rooms
        """The session's rooms, each with the ``g`` of its join."""
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.queue: deque[tuple[int, int, str | bytes, int]] = deque()
        """(seq, g, data, size) of every message after ``acked``."""
        self.bytes = 0
        self.close: tuple[int, int, str] | None = None
        """(g, code, reason): the session ended; its messages before ``g`` come first."""
        self.closing = False
        """Set when this process found the window full and is ending the session (4005)."""
        self.written = acked
        """The checkpoint Redis has (as far as this process wrote it)."""
        self.written_at = 0.0
        self.directs: deque[int] = deque()
        """Numbers of the direct messages (of the session's own log) not acknowledged yet."""
        self.waiter = False
        """A sender waits for room: write the next checkpoint soon (and a new window)."""
        self.gone = False
        """The session's keys were found gone from Redis (expired, evicted)."""

    # -- Events, in g order ---------------------------------------------------------------

    def add(self, g: int, data: str | bytes, size: int, *, checked: bool) -> bool:
        """Number a message of ``g``. ``checked``: a room's message, which a full window
        refuses (False: the caller ends the session with 4005 before ``g``). A direct
        message was checked against the window when it was sent."""
        if g <= self.cursor or self.close is not None:
            return True
        if checked and not self.has_room(size):
            return False
        self.cursor = g
        self.head += 1
        self.queue.append((self.head, g, data, size))
        if not checked:
            self.directs.append(self.head)
        self.bytes += size
        return True

    def has_room(self, size: int) -> bool:
        count = len(self.queue)
        if count == 0:
            return True
        if self.max_count is not None and count >= self.max_count:
            return False
        return self.max_bytes is None or self.bytes + size <= self.max_bytes

    def joined(self, g: int, room: str) -> bool:
        """The session joined ``room`` at ``g``; False if that was known already."""
        if g <= self.cursor:
            return False
        self.cursor = g
        self.rooms[room] = g
        return True

    def left(self, g: int, room: str) -> bool:
        """The session left ``room`` at ``g``; False if that was known already."""
        if g <= self.cursor:
            return False
        self.cursor = g
        self.rooms.pop(room, None)
        return True

    def end(self, g: int, code: int, reason: str) -> bool:
        """The session ended at ``g``: messages from ``g`` on are not its own (a close found
        later than the messages, as one for a full window, takes them back)."""
        if self.close is not None:
            return False
        self.close = (g, code, reason)
        self.cursor = max(self.cursor, g)
        queue = self.queue
        directs = self.directs
        while queue and queue[-1][1] >= g:
            seq, _, _, size = queue.pop()
            self.bytes -= size
            self.head -= 1
            if directs and directs[-1] == seq:
                directs.pop()
        return True

    # -- The connection -------------------------------------------------------------------

    def ack(self, seq: int) -> bool:
        """The client holds every message up to ``seq``; False if it said so before."""
        if seq <= self.acked:
            return False
        if seq > self.head:
            raise ProtocolError(f"ack {seq} for a message never sent")
        queue = self.queue
        while queue and queue[0][0] <= seq:
            _, g, _, size = queue.popleft()
            self.bytes -= size
            self.acked_g = g
        self.acked = seq
        return True

    def due(self, now: float, stride: int) -> bool:
        """Whether the checkpoint should be written now: a sender waits, a direct message was
        acknowledged (Redis keeps those until then, and counts their bytes), ``stride``
        messages were (at most a quarter of a room's log: any process can number the session
        from the checkpoint while the logs keep what came after it), or some were a while ago."""
        if self.acked == self.written:
            return self.waiter
        if self.waiter or (self.directs and self.directs[0] <= self.acked):
            return True
        return self.acked - self.written >= stride or now - self.written_at >= CHECKPOINT_AGE

    def wrote(self, now: float, acked: int) -> None:
        """The checkpoint at message ``acked`` was written (with the window as it is now: a
        waiting sender was told if it has room; if not, it waits for the next one)."""
        self.written, self.written_at = max(self.written, acked), now
        if self.has_room(0):
            self.waiter = False
        directs = self.directs
        while directs and directs[0] <= acked:
            directs.popleft()

    def pending(self, after: int, max_count: int | None, max_bytes: int | None) -> Pending:
        """Messages after ``after``, as :meth:`Backend.pending` answers."""
        if self.gone:
            raise UnknownSession()
        if after > self.head:
            raise ProtocolError(f"resume after {after} but the last message sent is {self.head}")
        if after < self.acked:
            raise ReplayGap(after, self.acked + 1)
        messages: list[tuple[int, str | bytes]] = []
        queue = self.queue
        index = after - self.acked  # queue[0] is message acked + 1
        budget = max_bytes
        end = len(queue) if max_count is None else min(len(queue), index + max_count)
        while index < end:
            seq, _, data, size = queue[index]
            if budget is not None:
                if messages and size > budget:
                    break
                budget -= size
            messages.append((seq, data))
            index += 1
        reached = messages[-1][0] if messages else after
        close = None
        if self.close is not None and reached == self.head:
            close = self.close[1], self.close[2]
        return Pending(messages, close, self.consumed, reached < self.head)

    @property
    def unacked(self) -> tuple[int, int]:
        """How many messages and bytes wait for the client's acknowledgement."""
        return len(self.queue), self.bytes
