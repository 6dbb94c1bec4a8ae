"""The client engine: the client's half of a session, and what a transport driver sees of it.

A :class:`ClientState`, owned by a :class:`~realtime.client.Connection`, holds the sequence
numbers, the replay buffer of outgoing messages and the queue of received ones. A transport
:class:`Driver` gets a :class:`Link` for one connection: it asks it for frames to send, hands
it every frame received, and returns an :class:`Ended` when the connection is over.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from realtime.exceptions import ProtocolError
from realtime.protocol.buffer import Receiver, ReplayBuffer
from realtime.protocol.codes import CloseCode
from realtime.protocol.connection import ConnectionProtocol, Violation, ack_batch
from realtime.protocol.frames import (
    Ack,
    Close,
    Data,
    Frame,
    Hello,
    Reconnect,
    encode_frame,
)
from realtime.protocol.negotiate import Negotiated
from realtime.wakeup import Signal, wait_event

__all__ = ["ClientState", "Driver", "Ended", "Link"]

KNOWN_KINDS = frozenset("hdebapqcr")


@dataclass(frozen=True, slots=True)
class Ended:
    """How a connection ended. ``over`` means the session itself ended (a close frame)."""

    code: int
    reason: str
    over: bool = False


class ClientState:
    """The client's half of a session: both directions' numbers and queues."""

    def __init__(self, negotiated: Negotiated) -> None:
        self.negotiated = negotiated
        self.token = negotiated.token
        """The token the next connection presents: each hello may hand out a new one."""
        self.outbox = ReplayBuffer(
            max_count=negotiated.max_queue, max_bytes=negotiated.max_buffer_bytes
        )
        self.receiver = Receiver()
        self.inbox: deque[str | bytes] = deque()
        self.inbox_signal = Signal()  # receive() waits here
        self.room_signal = Signal()  # send() waits here for room in the outbox
        self.read_signal = Signal()  # transports wait here while the inbox is full
        self.closing: Close | None = None  # set by close(): send it after the data

    @property
    def consumed(self) -> int:
        """Last message the application read: what the client acknowledges."""
        return self.receiver.received - len(self.inbox)

    @property
    def inbox_full(self) -> bool:
        limit = self.negotiated.max_queue
        return limit is not None and len(self.inbox) >= limit


class Link:
    """One connection's view of the session. See the module docstring."""

    def __init__(
        self, session: ClientState, now: float, *, ack_delay: float, acks_in_band: bool = True
    ) -> None:
        negotiated = session.negotiated
        self.session = session
        self.proto = ConnectionProtocol(
            is_server=False,
            now=now,
            max_message_size=negotiated.max_message_size,
            ping_interval=negotiated.ping_interval,
            ping_timeout=negotiated.ping_timeout,
            ack_batch=ack_batch(negotiated.max_queue),
            ack_delay=ack_delay,
            received=session.receiver.received,
        )
        # Acks go out as the application reads (as the server does: see ``SessionState.consumed``).
        self.opened = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.cursor = session.outbox.acked  # last outgoing message written on this connection
        self.close_sent = False
        self.acks_in_band = acks_in_band
        """False for long-polling, whose every poll carries the ack in ``last``."""

    @property
    def last(self) -> int:
        """The last message received, where the server resumes."""
        return self.session.receiver.received

    # -- Incoming -------------------------------------------------------------------------

    def receive(self, raw: str | bytes, now: float) -> Ended | None:
        """Handle one raw frame from the server; an :class:`Ended` ends the connection.

        Frame kinds this client does not know are ignored (newer servers may send them).
        """
        if isinstance(raw, str) and raw and raw[0] not in KNOWN_KINDS:
            self.proto.last_received = now
            return None
        frame = self.proto.receive(raw, now)
        if isinstance(frame, Violation):
            return Ended(frame.code, f"server broke the protocol: {frame.reason}")
        return self.handle(frame, now)

    def handle(self, frame: Frame, now: float) -> Ended | None:
        session = self.session
        try:
            if isinstance(frame, Data):
                if session.receiver.accept(frame.seq):
                    session.inbox.append(frame.data)
                    session.inbox_signal.notify()
            elif isinstance(frame, Ack):
                if session.outbox.ack(frame.seq):
                    session.room_signal.notify()
            elif isinstance(frame, Hello):
                if frame.token is not None:
                    session.token = frame.token
                session.outbox.ack(frame.ack)
                session.room_signal.notify()
                self.cursor = frame.ack  # messages() skips any acknowledged since
                self.opened.set()
                self.wakeup.set()
            elif isinstance(frame, Close):
                return Ended(frame.code, frame.reason, over=True)
            elif isinstance(frame, Reconnect):
                return Ended(frame.code, frame.reason)
            else:  # Ping: a pong is owed; Pong: nothing beyond liveness
                self.wakeup.set()
        except ProtocolError as exc:
            return Ended(CloseCode.PROTOCOL_ERROR, f"server broke the protocol: {exc}")
        return None

    # -- Outgoing -------------------------------------------------------------------------

    def control_frames(self, now: float) -> list[str]:
        """Owed acks and pongs, in text form.

        The ack is taken from the session's state each time, not only from :meth:`consumed`
        hints: the application may read messages of this connection before the session
        knows the connection is the current one.
        """
        if self.acks_in_band:
            self.proto.delivered(self.session.consumed, now)
        return [encode_frame(frame) for frame in self.proto.due(now)]

    def consumed(self, now: float) -> None:
        """The application read a message: an ack is owed (except on long-polling); wake the
        writer if the ack is due sooner than its next deadline."""
        if self.acks_in_band:
            before = self.proto.next_deadline()
            self.proto.delivered(self.session.consumed, now)
            after = self.proto.next_deadline()
            if after is not None and (before is None or after < before):
                self.wakeup.set()

    def messages(
        self, max_count: int | None = None, max_bytes: int | None = None
    ) -> list[tuple[int, str | bytes]]:
        """Outgoing messages not yet written on this connection (does not advance).

        Acks may cover messages this connection has not written yet (the previous one wrote
        them, and its acks arrived late): those are skipped.
        """
        outbox = self.session.outbox
        self.cursor = max(self.cursor, outbox.acked)
        return outbox.after(self.cursor, max_count=max_count, max_bytes=max_bytes)

    def close_frame(self) -> str | None:
        """The close, once every message before it is written."""
        closing = self.session.closing
        if closing is None or self.close_sent or self.cursor < self.session.outbox.last_seq:
            return None
        self.close_sent = True
        return encode_frame(closing)

    def sent(self, frames: int, now: float) -> None:
        self.proto.sent(frames, now)

    async def wait_for_work(self) -> None:
        """Wait until there is something to send or the next deadline passes."""
        deadline = self.proto.next_deadline()
        loop = asyncio.get_running_loop()
        await wait_event(
            self.wakeup, None if deadline is None else max(0.0, deadline - loop.time())
        )


class Driver(Protocol):
    name: str

    async def run(self, link: Link) -> Ended:
        """Connect (resuming after ``link.last``), move frames until the connection ends."""
        ...
