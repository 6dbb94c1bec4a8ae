"""One connection of a session: frame checks, heartbeat deadlines and coalesced acks.

A :class:`ConnectionProtocol` sits between a transport's raw frames and the session. It is
the same on the server and in the Python client (``is_server`` says which side it plays):

- :meth:`~ConnectionProtocol.receive` decodes and checks a frame from the peer and returns it,
  or returns a :class:`Violation` (a close code and reason) for bad input: it never raises.
- It owes the peer an ack once ``ack_batch`` messages are unacknowledged, or ``ack_delay``
  seconds after the last of them while messages keep coming (a stream is acked by count,
  not once per ``ack_delay``), but never later than ``ack_max_delay`` after the first; and
  a pong after a ping.
- Heartbeats: it asks for a ping after ``ping_interval`` seconds without sending anything, and
  declares the connection dead after ``ping_interval + ping_timeout`` without receiving anything.

Time is an argument; :meth:`next_deadline` tells the I/O layer when to call :meth:`due` again.
"""

from __future__ import annotations

from dataclasses import dataclass

from realtime.exceptions import ProtocolError
from realtime.protocol.codes import CloseCode
from realtime.protocol.frames import (
    Ack,
    Frame,
    Hello,
    Ping,
    Pong,
    Reconnect,
    decode_frame,
)

__all__ = ["ACK_MAX_DELAY", "ConnectionProtocol", "Violation", "ack_batch"]

ACK_MAX_DELAY = 1.0
"""Seconds an ack may wait after the first message it covers while a stream keeps coming."""


@dataclass(frozen=True, slots=True)
class Violation:
    """The peer broke the protocol; the session ends with ``code``."""

    code: int
    reason: str


_SERVER_ONLY = (Hello, Reconnect)


def ack_batch(max_queue: int | None) -> int:
    """How many messages a receiver takes before it acks without waiting for ``ack_delay``:
    a quarter of the sender's window (``max_queue``; 1024 when unbounded), at least one.
    Acking well before the window fills keeps a fast sender from ever waiting for room."""
    return max(1, (max_queue or 1024) // 4)


class ConnectionProtocol:
    """Checks and timers for one connection. See the module docstring."""

    __slots__ = (
        "_ack_last",
        "_ack_since",
        "_acked",
        "_pong_owed",
        "_watermark",
        "ack_batch",
        "ack_delay",
        "ack_max_delay",
        "is_server",
        "last_received",
        "last_sent",
        "max_message_size",
        "peer_acked",
        "peer_sent",
        "ping_interval",
        "ping_timeout",
    )

    def __init__(
        self,
        *,
        is_server: bool,
        now: float,
        max_message_size: int | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        ack_batch: int = 64,
        ack_delay: float = 0.05,
        ack_max_delay: float = ACK_MAX_DELAY,
        received: int = 0,
        acked: int = 0,
    ) -> None:
        if ack_batch < 1:
            raise ValueError("ack_batch must be at least 1")
        self.is_server = is_server
        self.max_message_size = max_message_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.ack_batch = ack_batch
        self.ack_delay = ack_delay
        self.ack_max_delay = max(ack_delay, ack_max_delay)
        self.last_received = now
        self.last_sent = now
        self._watermark = received
        self.peer_sent = received
        """The highest data frame of the peer known taken (from the start of this connection:
        ``received``): one at or below it is a duplicate, to drop without asking the session."""
        self.peer_acked = acked
        """The highest ack of the peer seen on this connection (from the start: ``acked``, the
        resume point it gave): one at or below it carries no news."""
        self._acked = received
        self._ack_since: float | None = None  # when the first message the ack owed covers came
        self._ack_last = 0.0  # when the last one came
        self._pong_owed = False

    # -- Input ----------------------------------------------------------------------------

    def receive(self, raw: str | bytes, now: float) -> Frame | Violation:
        """Decode one frame from the peer. Bad input returns a :class:`Violation`."""
        self.last_received = now
        try:
            frame = decode_frame(raw, max_size=self.max_message_size)
        except ProtocolError as exc:
            return Violation(exc.code, str(exc))
        if self.is_server and isinstance(frame, _SERVER_ONLY):
            return Violation(
                CloseCode.PROTOCOL_ERROR,
                f"a client may not send {type(frame).__name__.lower()} frames",
            )
        if isinstance(frame, Ping):
            self._pong_owed = True
        return frame

    def delivered(self, watermark: int, now: float) -> None:
        """The session now holds every peer message up to ``watermark``: an ack is owed."""
        if watermark <= self._watermark:
            return
        self._watermark = watermark
        self._ack_last = now
        if self._ack_since is None:
            self._ack_since = now

    def sent(self, frames: int, now: float) -> None:
        """``frames`` frames were written to the peer (any frame answers a ping)."""
        if frames:
            self.last_sent = now
            self._pong_owed = False

    # -- Output ---------------------------------------------------------------------------

    def take_ack(self) -> Ack | None:
        """The ack owed now, regardless of batching (e.g. to piggyback on a reply)."""
        if self._watermark == self._acked:
            return None
        self._acked = self._watermark
        self._ack_since = None
        return Ack(self._acked)

    def _ack_due_at(self) -> float | None:
        if self._ack_since is None:
            return None
        if self._watermark - self._acked >= self.ack_batch:
            return self._ack_since
        return min(self._ack_last + self.ack_delay, self._ack_since + self.ack_max_delay)

    def _ping_due_at(self) -> float | None:
        if self.ping_interval is None or not self.is_server:
            return None
        return self.last_sent + self.ping_interval

    def dead_at(self) -> float | None:
        """When the connection counts as dead if nothing arrives before."""
        if self.ping_interval is None or self.ping_timeout is None:
            return None
        return self.last_received + self.ping_interval + self.ping_timeout

    @property
    def owes(self) -> bool:
        """Whether an ack or a pong is owed: a deadline that may come before the others."""
        return self._ack_since is not None or self._pong_owed

    def ping_due(self, now: float) -> bool:
        """Whether :meth:`due` would ask for a heartbeat ping now."""
        ping_at = self._ping_due_at()
        return ping_at is not None and now >= ping_at

    def due(self, now: float) -> list[Frame]:
        """Control frames to send now: an ack, a pong, or (server side) a heartbeat ping."""
        frames: list[Frame] = []
        ack_at = self._ack_due_at()
        if ack_at is not None and now >= ack_at:  # implies an ack is owed
            frames.append(Ack(self._watermark))
            self._acked = self._watermark
            self._ack_since = None
        if self._pong_owed and not frames:
            frames.append(Pong())
        ping_at = self._ping_due_at()
        if not frames and ping_at is not None and now >= ping_at:
            frames.append(Ping())
        return frames

    def is_dead(self, now: float) -> bool:
        """Whether the peer stayed silent past the heartbeat timeout."""
        dead_at = self.dead_at()
        return dead_at is not None and now >= dead_at

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`due` or :meth:`is_dead` changes its answer."""
        earliest = self.last_received if self._pong_owed else None
        for deadline in (self._ack_due_at(), self._ping_due_at(), self.dead_at()):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest
