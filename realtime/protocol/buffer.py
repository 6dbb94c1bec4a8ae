"""Sequence numbers, cumulative acknowledgements and the replay buffer.

Each direction of a session numbers its messages 1, 2, 3, ... The sender keeps every message
in a :class:`ReplayBuffer` until the receiver acknowledges it; on resume it replays what the
receiver has not seen. The receiver's :class:`Receiver` keeps a watermark (the last message
received in order): it drops duplicates, refuses gaps, and says when an ack is owed.

Both are plain data structures: no I/O, no clock. The memory backend and the Python client use
them directly; the Redis backend implements the same contract in Redis and is held to it by the
shared backend test suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from realtime.exceptions import BufferFull, ProtocolError, ReplayGap

__all__ = ["Receiver", "ReplayBuffer"]


@dataclass(slots=True)
class _Entry:
    seq: int
    data: str | bytes
    size: int


class ReplayBuffer:
    """Outgoing messages, numbered from 1, kept until the peer acknowledges them.

    Bounded by ``max_count`` messages and ``max_bytes`` bytes (``None`` for no bound); a message
    is always accepted into an empty buffer, so one message larger than ``max_bytes`` still goes.
    """

    __slots__ = ("_bytes", "_entries", "_head", "acked", "last_seq", "max_bytes", "max_count")

    def __init__(
        self, *, max_count: int | None = None, max_bytes: int | None = None, start: int = 0
    ) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.last_seq = start
        self.acked = start
        self._entries: list[_Entry] = []
        self._head = 0  # index of the first live entry in _entries
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries) - self._head

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes

    @property
    def footprint(self) -> int:
        """Entries the storage holds: the unacknowledged ones, and acknowledged ones that a
        later compaction frees."""
        return len(self._entries)

    def has_room(self, size: int) -> bool:
        """Whether a message of ``size`` bytes would be accepted now."""
        count = len(self)
        if count == 0:
            return True
        if self.max_count is not None and count >= self.max_count:
            return False
        return self.max_bytes is None or self._bytes + size <= self.max_bytes

    def append(self, data: str | bytes, size: int) -> int:
        """Number and store a message; return its sequence number.

        Raises:
            BufferFull: the buffer is at one of its bounds.
        """
        if not self.has_room(size):
            raise BufferFull(f"{len(self)} messages, {self._bytes} bytes unacknowledged")
        self.last_seq += 1
        self._entries.append(_Entry(self.last_seq, data, size))
        self._bytes += size
        return self.last_seq

    def ack(self, seq: int) -> int:
        """Drop every message up to ``seq``; return how many were dropped.

        An ack at or below the previous one is stale and ignored.

        Raises:
            ProtocolError: ``seq`` acknowledges a message that was never sent.
        """
        if seq > self.last_seq:
            raise ProtocolError(f"ack {seq} for a message never sent (last is {self.last_seq})")
        if seq <= self.acked:
            return 0
        dropped = seq - self.acked
        for entry in self._entries[self._head : self._head + dropped]:
            self._bytes -= entry.size
        self._head += dropped
        self.acked = seq
        if self._head == len(self._entries):
            self._entries.clear()  # all acknowledged: keep no message (nor storage) alive
            self._head = 0
        elif self._head > 64 and self._head * 2 > len(self._entries):
            del self._entries[: self._head]
            self._head = 0
        return dropped

    def after(
        self, seq: int, *, max_count: int | None = None, max_bytes: int | None = None
    ) -> list[tuple[int, str | bytes]]:
        """Messages numbered above ``seq``, oldest first, up to the given bounds.

        ``max_bytes`` bounds the batch but the first message is always included.

        Raises:
            ReplayGap: messages after ``seq`` were already dropped (``seq`` < ``acked``).
            ProtocolError: ``seq`` is beyond the last message sent.
        """
        if seq > self.last_seq:
            raise ProtocolError(f"resume after {seq} but the last message sent is {self.last_seq}")
        if seq < self.acked:
            raise ReplayGap(seq, self.acked + 1)
        start = self._head + (seq - self.acked)
        stop = len(self._entries)
        if max_count is not None:
            stop = min(stop, start + max_count)
        if stop - start == 1:  # the common case of a connection that keeps up
            entry = self._entries[start]
            return [(entry.seq, entry.data)]
        batch: list[tuple[int, str | bytes]] = []
        budget = max_bytes
        for entry in self._entries[start:stop]:
            if budget is not None:
                if batch and entry.size > budget:
                    break
                budget -= entry.size
            batch.append((entry.seq, entry.data))
        return batch

    def __iter__(self) -> Iterator[tuple[int, str | bytes]]:
        for entry in self._entries[self._head :]:
            yield entry.seq, entry.data


class Receiver:
    """The receiving side of one direction of a session.

    ``received`` is the watermark: every message up to it arrived, in order. ``acked`` is the
    highest number acknowledged to the sender so far.
    """

    __slots__ = ("acked", "received")

    def __init__(self, received: int = 0) -> None:
        self.received = received
        self.acked = received

    def accept(self, seq: int) -> bool:
        """Return True for the next message in order, False for a duplicate.

        Raises:
            ProtocolError: ``seq`` skips messages (a gap), which a correct sender never does.
        """
        if seq == self.received + 1:
            self.received = seq
            return True
        if seq <= self.received:
            return False
        raise ProtocolError(f"message {seq} arrived but {self.received + 1} was expected")

    @property
    def unacked(self) -> int:
        """How many received messages were not acknowledged yet."""
        return self.received - self.acked

    def take_ack(self) -> int | None:
        """The ack to send now, or None when the sender already knows everything."""
        if self.received == self.acked:
            return None
        self.acked = self.received
        return self.received
