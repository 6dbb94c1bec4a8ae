"""Notifications from Redis to this process: one pub/sub channel per process.

The scripts publish to the channel of the process concerned. Those that carry a place ``g``
in the global order (:mod:`~realtime.backends.redis.outbox`) are the events of a session's
outgoing side, and arrive in ``g`` order::

    p <g> <kind> <size> <excluded sid or .> <room length>\\n<room><data>   a room's message
    o <g> <sid> <kind> <size>\\n<data>                                     a direct message
    j <g> <sid> <room>  |  l <g> <sid> <room>                             joined, left
    c <g> <sid> <code> <reason>                                           ended, before g

A room's message goes once to each process holding connections of its members, payload
included; the notifier numbers it into each local member's :class:`Outbox` (the fan-out is
here, in memory) and wakes the connection. The others carry no order: ``a <sid> <seq>`` (an
acknowledgement that reached another process), ``w <sid>`` (a sender waits for room: write
the acknowledgements soon), ``r <sid> <consumed>`` (the handler read: an ack is owed),
``x <sid> <connection id>`` (a newer connection took over), ``t <sid> <transport>`` (a
connection attached elsewhere, for the handler's process), ``i <sid>`` (a message for the
handler) and ``k <sid>`` (room in the window, for a waiting sender).

Pub/sub delivers at most once: while the subscription is down, events are lost. So after a
resubscription every local connection is ended (its client resumes, and the attach reads the
logs afresh) and every local waiter re-checks.

An attach reads the logs up to some ``g`` in a script; events after it may be dispatched
before its answer is back. :meth:`Notifier.recording` keeps the events dispatched meanwhile,
and :meth:`Notifier.adopt` replays them into the new outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime.backends.redis.cancellation import raise_if_cancelled
from realtime.backends.redis.codec import decode
from realtime.backends.redis.outbox import BUFFER_OVERFLOW_REASON, Outbox
from realtime.protocol.frames import CloseCode
from realtime.types import TRANSPORT_NAMES, SessionId, TransportName
from realtime.wakeup import Signal

__all__ = ["Notifier", "Watch"]

logger = logging.getLogger("realtime.backends.redis")

RETRY_DELAY = 0.5

Event = tuple[bytes, bytes]
"""A notification as it came: its kind and the rest."""


class Watch:
    """What a local waiter waits on: a counter of notifications and a signal.

    Read ``generation`` before checking Redis, and wait only if it is unchanged after the
    check: a notification that arrives while the check is in flight is then never lost.
    """

    __slots__ = ("generation", "signal", "users")

    def __init__(self) -> None:
        self.generation = 0
        self.signal = Signal()
        self.users = 0

    def bump(self) -> None:
        self.generation += 1
        self.signal.notify()


class Notifier:
    """Subscribes to this process's channel and dispatches what arrives on it."""

    def __init__(self, client: Redis, channel: str) -> None:
        self._client = client
        self.channel = channel
        self.outboxes: dict[str, Outbox] = {}
        """The outgoing side of the sessions of local connections, by session id."""
        self.local_members: dict[str, set[str]] = {}
        """The sessions of local connections in each room."""
        self.inbox: dict[str, Watch] = {}
        """Local handlers waiting for messages, by session id."""
        self.room: dict[str, Watch] = {}
        """Local senders waiting for room in a window, by session id."""
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.on_transport: Callable[[SessionId, TransportName], None] | None = None
        """Told of connections attached in other processes, for handlers running here."""
        self.on_overflow: Callable[[Outbox, int], None] = lambda outbox, g: None
        """Told when a room's message at ``g`` found a local session's window full."""
        self.on_flush: Callable[[], None] = lambda: None
        """Told when an outbox's acknowledgements should be written soon."""
        self._journal: list[Event] = []
        self._journal_start = 0
        self._recorders = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="realtime-redis-notifier")
        await self.subscribed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def watch(self, table: dict[str, Watch], session_id: str) -> Watch:
        watch = table.get(session_id)
        if watch is None:
            watch = table[session_id] = Watch()
        watch.users += 1
        return watch

    def unwatch(self, table: dict[str, Watch], session_id: str, watch: Watch) -> None:
        watch.users -= 1
        if watch.users <= 0 and table.get(session_id) is watch:
            del table[session_id]

    # -- Outboxes -------------------------------------------------------------------------

    def recording(self) -> int:
        """Start keeping the events dispatched from now on; the mark to give :meth:`adopt`
        or :meth:`forget_mark`."""
        self._recorders += 1
        return self._journal_start + len(self._journal)

    def forget_mark(self) -> None:
        self._recorders -= 1
        if self._recorders == 0:
            self._journal_start += len(self._journal)
            self._journal.clear()

    def adopt(self, outbox: Outbox, mark: int) -> Outbox | None:
        """Make ``outbox`` the session's, with the events since ``mark`` applied to it;
        return the outbox it replaces."""
        session_id = outbox.session_id
        previous = self.drop(session_id)
        self.outboxes[session_id] = outbox
        for room in outbox.rooms:
            self.local_members.setdefault(room, set()).add(session_id)
        for kind, rest in self._journal[mark - self._journal_start :]:
            self._apply(kind, rest, session_id)
        self.forget_mark()
        return previous

    def drop(self, session_id: str, listener_id: str | None = None) -> Outbox | None:
        """Forget the session's outbox (only if it serves ``listener_id``, when given)."""
        outbox = self.outboxes.get(session_id)
        if outbox is None or (listener_id is not None and outbox.listener.id != listener_id):
            return None
        del self.outboxes[session_id]
        for room in outbox.rooms:
            members = self.local_members.get(room)
            if members is not None:
                members.discard(session_id)
                if not members:
                    del self.local_members[room]
        return outbox

    # -- The subscription -----------------------------------------------------------------

    async def _run(self) -> None:
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    raise_if_cancelled()
                    if message["type"] == "subscribe":
                        self.subscribed.set()
                        if not first:
                            self._events_lost()
                        first = False
                    elif message["type"] == "message":
                        self.dispatch(message["data"])
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                self.subscribed.clear()
                logger.warning("redis notifications lost (%r); resubscribing", exc)
                await asyncio.sleep(RETRY_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _events_lost(self) -> None:
        """Events may have been lost while unsubscribed: local connections resume (their
        attach reads the logs again), local waiters check again."""
        for outbox in list(self.outboxes.values()):
            outbox.listener.disconnect(CloseCode.BACKEND_UNAVAILABLE, "resume: events were lost")
        for table in (self.inbox, self.room):
            for watch in list(table.values()):
                watch.bump()

    def dispatch(self, data: bytes) -> None:
        kind, rest = data[:1], data[2:]
        if self._recorders and kind in b"pojlc":
            self._journal.append((kind, rest))
        self._apply(kind, rest, None)

    # -- Events ---------------------------------------------------------------------------

    def _apply(self, kind: bytes, rest: bytes, only: str | None) -> None:
        """Apply one event, to the session ``only`` if given (a replay), else to all."""
        if kind == b"p":
            self._room_message(rest, only)
            return
        if kind == b"o":
            header, _, payload = rest.partition(b"\n")
            g, session_id, tag, size = header.decode().split(" ")
            if only is not None and session_id != only:
                return
            outbox = self.outboxes.get(session_id)
            if outbox is not None and outbox.add(
                int(g), decode(tag.encode(), payload), int(size), checked=False
            ):
                outbox.listener.wake()
            return
        text = rest.decode("utf-8", "replace")
        if kind in b"jlc":
            self._membership_or_end(kind, text, only)
            return
        if only is not None:
            return
        session_id, _, argument = text.partition(" ")
        outbox = self.outboxes.get(session_id)
        if kind == b"r":
            if outbox is not None:
                outbox.consumed = max(outbox.consumed, int(argument))
                outbox.listener.wake()
        elif kind == b"a":
            if outbox is not None:
                with contextlib.suppress(Exception):  # past what it sent: no business of ours
                    if outbox.ack(int(argument)) and outbox.waiter:
                        self.on_flush()
        elif kind == b"w":
            if outbox is not None:
                outbox.waiter = True
                self.on_flush()
        elif kind == b"x":
            if outbox is not None and outbox.listener.id == argument:
                self.drop(session_id)
                outbox.listener.disconnect(
                    CloseCode.TRANSPORT_REPLACED, "a newer connection took over"
                )
        elif kind == b"t":
            if self.on_transport is not None and argument in TRANSPORT_NAMES:
                self.on_transport(SessionId(session_id), argument)
        elif kind == b"i":
            self._bump(self.inbox, session_id)
        elif kind == b"k":
            self._bump(self.room, session_id)

    def _room_message(self, rest: bytes, only: str | None) -> None:
        header, _, body = rest.partition(b"\n")
        g_text, tag, size_text, excluded, length = header.decode().split(" ")
        room = body[: int(length)].decode("utf-8")
        members = self.local_members.get(room)
        if not members:
            return
        g, size = int(g_text), int(size_text)
        data = decode(tag.encode(), body[int(length) :])
        outboxes = self.outboxes
        for session_id in (only,) if only is not None else tuple(members):
            outbox = outboxes.get(session_id)
            if outbox is None or session_id == excluded or room not in outbox.rooms:
                continue
            if outbox.rooms[room] >= g:
                continue
            if outbox.add(g, data, size, checked=True):
                outbox.listener.wake()
            elif not outbox.closing:
                outbox.closing = True
                outbox.end(g, CloseCode.BUFFER_OVERFLOW, BUFFER_OVERFLOW_REASON)
                self.on_overflow(outbox, g)
                outbox.listener.wake()

    def _membership_or_end(self, kind: bytes, text: str, only: str | None) -> None:
        g_text, session_id, argument = text.split(" ", 2)
        if only is not None and session_id != only:
            return
        g = int(g_text)
        if kind == b"c":
            self._bump(self.inbox, session_id)
            self._bump(self.room, session_id)
            outbox = self.outboxes.get(session_id)
            code, _, reason = argument.partition(" ")
            if outbox is not None and outbox.end(g, int(code), reason):
                outbox.listener.wake()
            return
        outbox = self.outboxes.get(session_id)
        if outbox is None:
            return
        if kind == b"j":
            if outbox.joined(g, argument):
                self.local_members.setdefault(argument, set()).add(session_id)
        elif outbox.left(g, argument):
            members = self.local_members.get(argument)
            if members is not None:
                members.discard(session_id)
                if not members:
                    del self.local_members[argument]

    @staticmethod
    def _bump(table: dict[str, Watch], session_id: str) -> None:
        watch = table.get(session_id)
        if watch is not None:
            watch.bump()
