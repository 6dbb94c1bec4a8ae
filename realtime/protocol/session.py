"""The state of one session, as a pure state machine.

::

    PENDING ──attach──▶ ATTACHED ──detach──▶ DETACHED ──attach──▶ ATTACHED ...
       │                   │                    │
       └──────── close / expire (after session_ttl without a connection) ──▶ CLOSED

A session outlives its connections: a transport *attaches* to it, and when the connection
drops the session waits ``session_ttl`` seconds for the client to resume. Everything a resume
needs lives here: both sequence numbers, the replay buffer of outgoing messages, the inbox of
received messages not yet read by the handler, and the rooms.

No I/O and no clock: every method that depends on time takes ``now``. The memory backend holds
one :class:`SessionState` per session; the Redis backend keeps the same fields in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from realtime.exceptions import BufferFull, InboxFull, OverBudget, RateLimited, ReplayGap
from realtime.protocol.budget import Budget
from realtime.protocol.buffer import Receiver, ReplayBuffer
from realtime.protocol.limits import TokenBucket
from realtime.types import TransportName

__all__ = ["Attached", "SessionState", "SessionStatus"]


class SessionStatus(IntEnum):
    PENDING = 0
    ATTACHED = 1
    DETACHED = 2
    CLOSED = 3


@dataclass(frozen=True, slots=True)
class Attached:
    """What a transport needs after attaching: where to resume and whom it replaced."""

    ack: int
    """Last client message the handler read; the client resends what follows (the server
    drops those it holds already)."""
    replaced: str | None
    """Id of the connection this one took over from, if any."""
    first: bool = False
    """Whether this is the session's first connection (it was never attached before)."""


class SessionState:
    """Everything one session is, apart from the application's handler."""

    __slots__ = (
        "bucket",
        "budget",
        "close_code",
        "close_reason",
        "connection",
        "inbound",
        "_inbox",
        "_inbox_head",
        "inbox_bytes",
        "last_seen",
        "max_buffer_bytes",
        "max_queue",
        "outbox",
        "rooms",
        "since",
        "status",
        "transport",
    )

    def __init__(
        self,
        *,
        now: float,
        max_queue: int | None,
        max_buffer_bytes: int | None = None,
        max_rate: float | None = None,
        max_burst: int = 1,
        budget: Budget | None = None,
    ) -> None:
        self.status = SessionStatus.PENDING
        self.since = now
        """When the status last changed."""
        self.last_seen = now
        """Last time the client showed it was alive."""
        self.connection: str | None = None
        self.transport: TransportName | None = None
        self.outbox = ReplayBuffer(max_count=max_queue, max_bytes=max_buffer_bytes)
        self.inbound = Receiver()
        # The handler's unread messages are _inbox[_inbox_head:]: a list emptied when drained
        # holds no memory while idle (an empty deque holds a 64-slot block).
        self._inbox: list[tuple[str | bytes, int]] = []
        self._inbox_head = 0
        self.inbox_bytes = 0
        self.max_queue = max_queue
        self.max_buffer_bytes = max_buffer_bytes
        self.rooms: set[str] = set()
        self.bucket = None if max_rate is None else TokenBucket(max_rate, max_burst, now)
        self.budget = budget
        """What the sessions of the client's address hold, all queues counted (None: no
        bound beyond this session's own windows)."""
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def closed(self) -> bool:
        return self.status is SessionStatus.CLOSED

    # -- Connections ----------------------------------------------------------------------

    def attach(self, connection: str, transport: TransportName, last: int, now: float) -> Attached:
        """Attach a new connection that has received every message up to ``last``.

        Works on a closed session too, so that a client that missed the end still gets the
        remaining messages and the close.

        Raises:
            ReplayGap: messages after ``last`` are no longer in the buffer.
            ProtocolError: ``last`` is beyond the last message sent.
        """
        if last < self.outbox.acked:
            raise ReplayGap(last, self.outbox.acked + 1)
        self.ack(last)
        first = self.status == SessionStatus.PENDING
        replaced = self.connection
        self.connection = connection
        self.transport = transport
        self.last_seen = now
        if not self.closed:
            self.status = SessionStatus.ATTACHED
            self.since = now
        return Attached(ack=self.consumed, replaced=replaced, first=first)

    def detach(self, connection: str, now: float) -> bool:
        """Detach ``connection`` if it is still the current one; return whether it was."""
        if connection != self.connection:
            return False
        self.connection = None
        if not self.closed:
            self.status = SessionStatus.DETACHED
            self.since = now
        return True

    def touch(self, now: float) -> None:
        """The client showed it is alive (any request or frame)."""
        self.last_seen = now

    def expired(self, now: float, ttl: float) -> bool:
        """Whether the session waited for a connection longer than ``ttl`` seconds."""
        waiting = self.status in (SessionStatus.PENDING, SessionStatus.DETACHED)
        return waiting and now - self.since >= ttl

    # -- Outgoing -------------------------------------------------------------------------

    def has_room(self, size: int) -> bool:
        """Whether an outgoing message of ``size`` bytes fits the window and the budget."""
        budget = self.budget
        return self.outbox.has_room(size) and (budget is None or budget.fits(size))

    def push(self, data: str | bytes, size: int) -> int:
        """Queue an outgoing message; return its number. Raises ``BufferFull``."""
        budget = self.budget
        if budget is not None and not budget.fits(size):
            raise BufferFull(budget.refusal(size))
        seq = self.outbox.append(data, size)
        if budget is not None:
            budget.charge(size)
        return seq

    def ack(self, seq: int) -> int:
        """The client acknowledged every message up to ``seq``. Raises ``ProtocolError``."""
        outbox = self.outbox
        held = outbox.size
        freed = outbox.ack(seq)
        if self.budget is not None:
            self.budget.charge(outbox.size - held)
        return freed

    @property
    def held(self) -> int:
        """Bytes this session holds in its queues, both ways."""
        return self.outbox.size + self.inbox_bytes

    def pending(
        self, after: int, *, max_count: int | None = None, max_bytes: int | None = None
    ) -> list[tuple[int, str | bytes]]:
        """Outgoing messages after ``after``. Raises ``ReplayGap`` or ``ProtocolError``."""
        return self.outbox.after(after, max_count=max_count, max_bytes=max_bytes)

    # -- Incoming -------------------------------------------------------------------------

    @property
    def unread(self) -> int:
        """How many messages wait in the handler's inbox."""
        return len(self._inbox) - self._inbox_head

    def inbox_has_room(self, size: int) -> bool:
        """Whether the handler's inbox takes a message of ``size`` bytes (one always fits)."""
        unread = self.unread
        if not unread:
            return True
        if self.max_queue is not None and unread >= self.max_queue:
            return False
        return self.max_buffer_bytes is None or self.inbox_bytes + size <= self.max_buffer_bytes

    @property
    def consumed(self) -> int:
        """Last client message the handler has read: what the server acknowledges.

        Acknowledging on consumption, not on receipt, makes the client's bound on
        unacknowledged messages bound the handler's inbox too, so no reader ever has to stop
        reading (which would hold back the acks queued behind the data).
        """
        return self.inbound.received - self.unread

    def deliver(self, seq: int, data: str | bytes, size: int, now: float) -> bool:
        """Take message ``seq`` from the client; return False for a duplicate.

        Raises:
            InboxFull: the client sent past its window (more unacknowledged messages or bytes
                than the limits allow); the message is not taken.
            RateLimited: the client sends faster than ``max_rate``.
            ProtocolError: ``seq`` skips messages.
        """
        if seq <= self.inbound.received:
            return False  # a resend after a reconnection costs no token
        if seq != self.inbound.received + 1:
            self.inbound.accept(seq)  # raises ProtocolError: a gap
        if self.bucket is not None and not self.bucket.take(now):
            raise RateLimited(f"more than {self.bucket.rate:g} messages per second")
        if not self.inbox_has_room(size):
            raise InboxFull(f"{self.unread} messages wait for the handler")
        budget = self.budget
        if budget is not None:
            if not budget.fits(size):
                raise OverBudget(budget.refusal(size))
            budget.charge(size)
        self.inbound.accept(seq)
        self._inbox.append((data, size))
        self.inbox_bytes += size
        return True

    def take(self) -> str | bytes | None:
        """The oldest message the handler has not read, or None."""
        inbox, head = self._inbox, self._inbox_head
        if head == len(inbox):
            return None
        data, size = inbox[head]
        head += 1
        if head == len(inbox):
            inbox.clear()  # drained: an idle session holds no list storage
            head = 0
        elif head > 64 and head * 2 > len(inbox):
            del inbox[:head]
            head = 0
        self._inbox_head = head
        self.inbox_bytes -= size
        if self.budget is not None:
            self.budget.charge(-size)
        return data

    # -- Closing --------------------------------------------------------------------------

    def close(self, code: int, reason: str) -> bool:
        """End the session; return False if it had already ended (the first close wins)."""
        if self.closed:
            return False
        self.status = SessionStatus.CLOSED
        self.close_code = code
        self.close_reason = reason
        return True
