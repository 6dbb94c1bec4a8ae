"""Notifications from Redis to this process: one pub/sub channel per process.

Scripts publish ``<kind> <sid> [<argument>]`` to the channel of the process that holds a
session's connection (``o`` new messages, ``r`` an ack is owed, ``x <connection id>`` a newer
connection took over, ``j|l <room>`` the session joined or left a room) or its handler (``i``
a message arrived, ``t <transport>`` a connection attached elsewhere), ``k`` (acknowledgements
made room) to a sender waiting for it, and ``c`` (closed) to all of them. A room's publish
sends one ``p <room>`` per process holding members' connections: the notifier knows the
rooms of its connections' sessions (from the attach, then ``j`` and ``l``) and wakes those in
the room. The :class:`Notifier` turns them into wake-ups of local listeners and
:class:`Watch` objects.

Pub/sub delivers at most once: while the subscription is down, notifications are lost. So
after every (re)subscription the notifier wakes everything local, and everyone re-checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime.backends.base import Listener
from realtime.backends.redis.cancellation import raise_if_cancelled
from realtime.protocol.frames import CloseCode
from realtime.types import TRANSPORT_NAMES, SessionId, TransportName
from realtime.wakeup import Signal

__all__ = ["Notifier", "Watch"]

logger = logging.getLogger("realtime.backends.redis")

RETRY_DELAY = 0.5


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
        self.listeners: dict[str, Listener] = {}
        """Local connections, by session id."""
        self.rooms_of: dict[str, set[str]] = {}
        """The rooms of the sessions of local connections."""
        self.local_members: dict[str, set[str]] = {}
        """The sessions of local connections in each room."""
        self.lagging: set[str] = set()
        """Sessions whose connection had not acted on a room's news yet when more came:
        their window is checked without waiting for their next read (a stalled client is
        closed with 4005 even while its connection's write hangs)."""
        self.inbox: dict[str, Watch] = {}
        """Local handlers waiting for messages, by session id."""
        self.room: dict[str, Watch] = {}
        """Local senders waiting for room in a window, by session id."""
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.on_transport: Callable[[SessionId, TransportName], None] | None = None
        """Told of connections attached in other processes, for handlers running here."""

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

    def track(self, session_id: str, rooms: list[str]) -> None:
        """A local connection attached, its session in ``rooms`` (added to what joins told
        meanwhile: a room too many only costs a wake-up)."""
        for room in rooms:
            self._joined(session_id, room)

    def untrack(self, session_id: str) -> None:
        """The session's local connection is gone."""
        for room in self.rooms_of.pop(session_id, ()):
            self._left(session_id, room)

    def _joined(self, session_id: str, room: str) -> None:
        self.rooms_of.setdefault(session_id, set()).add(room)
        self.local_members.setdefault(room, set()).add(session_id)

    def _left(self, session_id: str, room: str) -> None:
        members = self.local_members.get(room)
        if members is not None:
            members.discard(session_id)
            if not members:
                del self.local_members[room]

    async def _run(self) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    raise_if_cancelled()
                    if message["type"] == "subscribe":
                        self.subscribed.set()
                        self._wake_everything()  # what was lost while unsubscribed
                    elif message["type"] == "message":
                        self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                self.subscribed.clear()
                logger.warning("redis notifications lost (%r); resubscribing", exc)
                await asyncio.sleep(RETRY_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _wake_everything(self) -> None:
        for listener in list(self.listeners.values()):
            listener.wake()
        for table in (self.inbox, self.room):
            for watch in list(table.values()):
                watch.bump()

    def _dispatch(self, data: bytes) -> None:
        kind, _, rest = data.decode("utf-8", "replace").partition(" ")
        if kind == "o":  # new messages, for one or more sessions (a room's publish)
            for session_id in rest.split(" "):
                listener = self.listeners.get(session_id)
                if listener is not None:
                    listener.wake()
            return
        if kind == "p":  # a room's publish: wake the local members
            for session_id in tuple(self.local_members.get(rest, ())):
                listener = self.listeners.get(session_id)
                if listener is not None:
                    if getattr(listener, "busy", False):
                        self.lagging.add(session_id)
                    listener.wake()
            return
        session_id, _, argument = rest.partition(" ")
        if kind in ("j", "l"):
            if session_id in self.listeners:
                if kind == "j":
                    self._joined(session_id, argument)
                else:
                    self.rooms_of.get(session_id, set()).discard(argument)
                    self._left(session_id, argument)
            return
        if kind in ("r", "c"):
            listener = self.listeners.get(session_id)
            if listener is not None:
                listener.wake()
        if kind == "x":
            listener = self.listeners.get(session_id)
            if listener is not None and listener.id == argument:
                listener.disconnect(CloseCode.TRANSPORT_REPLACED, "a newer connection took over")
        if kind == "t" and self.on_transport is not None and argument in TRANSPORT_NAMES:
            self.on_transport(SessionId(session_id), argument)
        if kind in ("i", "c"):
            self._bump(self.inbox, session_id)
        if kind in ("k", "c"):
            self._bump(self.room, session_id)

    @staticmethod
    def _bump(table: dict[str, Watch], session_id: str) -> None:
        watch = table.get(session_id)
        if watch is not None:
            watch.bump()
