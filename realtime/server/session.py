"""The application's view of one session: send, receive, close, rooms.

The same object whichever transport the client uses, and across reconnections: a dropped
connection is invisible here, the session resumes and nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:  # TypeVar's default (PEP 696): a dependency of Starlette's and anyio's there
    from typing_extensions import TypeVar

from starlette.datastructures import Headers, QueryParams

from realtime.events import Event, Router
from realtime.exceptions import (
    BackendError,
    BufferFull,
    SessionClosed,
    SessionClosedOK,
    UnknownSession,
)
from realtime.presence import RESERVED_PREFIX
from realtime.protocol.codes import CloseCode
from realtime.protocol.events import Envelope
from realtime.protocol.frames import check_close_code, check_message, truncate_reason
from realtime.types import Message, SessionId, TransportName

if TYPE_CHECKING:
    from realtime.backends.base import Backend, SessionInfo
    from realtime.server.hub import Hub
    from realtime.server.settings import Settings

__all__ = ["MAX_STATE_BYTES", "Session", "Whereabouts"]

MAX_STATE_BYTES = 65536
"""The most a session's saved ``state`` may weigh, as JSON (UTF-8 bytes)."""

JOINED, LEFT = "presence:join", "presence:leave"
"""The events that tell a room's members of a join or a leave, announced (``announce=True``)."""

logger = logging.getLogger("realtime")
T = TypeVar("T")
U = TypeVar("U", default=Any)
"""What ``authenticate`` returns: ``Session[User]``; a bare ``Session`` is ``Session[Any]``."""


class Whereabouts:
    """Where a session's client is now: kept up to date by the handler supervisor, which
    hears of every connection that attaches, in any process sharing the backend."""

    __slots__ = ("transport",)

    def __init__(self, transport: TransportName | None = None) -> None:
        self.transport = transport


class Session(Generic[U]):
    """One client's session. Handlers receive it: ``async def handler(session) -> None``.

    ``Session[User]`` types ``session.user`` as what the app's ``authenticate`` returns.

    Attributes:
        id: The public session id.
        headers: The headers of the negotiation request that the app keeps (``keep_headers``:
            by default User-Agent and Accept-Language; never credentials).
        query_params: Query parameters of the negotiation request.
        user: What the ``authenticate`` hook returned, or None.
        restarted: Whether this handler takes over from one that stopped unfinished.
    """

    __slots__ = (
        "_announced",
        "_backend",
        "_closed",
        "_headers",
        "_hub",
        "_info",
        "_query_params",
        "_read_raw",
        "_router",
        "_settings",
        "_taking",
        "_whereabouts",
        "id",
        "restarted",
        "state",
        "user",
    )

    def __init__(
        self,
        info: SessionInfo,
        *,
        backend: Backend,
        settings: Settings,
        hub: Hub,
        whereabouts: Whereabouts | None = None,
        restarted: bool = False,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._hub = hub
        self._info = info
        self.id: SessionId = info.id
        self._headers: Headers | None = None  # built when first read: most handlers never do
        self._query_params: QueryParams | None = None
        self.user: U = info.user  # type: ignore[assignment]  # what authenticate returned
        self.restarted = restarted
        """True when this handler runs again for a session whose previous handler stopped
        before the session ended: its process shut down or died (with a shared backend). The
        session's state (sequence numbers, unread messages, rooms, and :attr:`state` as last
        saved) is intact; the previous handler's local variables are not."""
        self._whereabouts = whereabouts if whereabouts is not None else Whereabouts()
        self._closed: SessionClosed | None = None
        self._router: Router | None = None  # made when the first event comes or goes
        self._taking = False  # receive() waits for the backend without a router
        self._read_raw = False  # whether receive() was called before there was a router
        self.state: dict[str, Any] = {}
        """The handler's own state, JSON: saved with ``await session.save()`` and handed back
        to a restarted handler (``session.restarted``), in this process or another."""
        self._announced: set[str] = set()  # rooms whose members hear of this one's leave

    def __repr__(self) -> str:
        return f"<Session {self.id} transport={self.transport}>"

    @property
    def headers(self) -> Headers:
        """The headers of the negotiation request that the app keeps (``keep_headers``)."""
        if self._headers is None:
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._info.headers]
            self._headers = Headers(raw=raw)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """Query parameters of the negotiation request."""
        if self._query_params is None:
            self._query_params = QueryParams(self._info.query_string)
        return self._query_params

    @property
    def transport(self) -> TransportName | None:
        """The transport the client uses now (None while no connection is attached)."""
        return self._whereabouts.transport

    @property
    def hub(self) -> Hub:
        """The hub of the app, to publish to rooms and other sessions."""
        return self._hub

    @property
    def closed(self) -> bool:
        """Whether this session was seen to end (a send or receive raised ``SessionClosed``)."""
        return self._closed is not None

    def _ended(self, exc: SessionClosed) -> SessionClosed:
        if self._closed is None:
            self._closed = exc
        return self._closed

    async def send(self, data: Message) -> None:
        """Send a text or binary message; waits while the client is ``max_queue`` behind.

        Raises:
            SessionClosed: the session ended (also when the client stayed too far behind for
                ``send_timeout`` seconds: code BUFFER_OVERFLOW).
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
            PayloadTooBig: ``data`` is larger than ``max_message_size``.
            TypeError: ``data`` is neither str nor bytes.
        """
        if self._closed is not None:
            raise self._closed
        size = check_message(data, self._settings.max_message_size)
        backend = self._backend
        timeout = self._settings.send_timeout
        try:
            try:
                await backend.push(self.id, data, size, timeout)
            except BackendError:  # a backend outage: retried until send_timeout
                await _retrying(lambda: backend.push(self.id, data, size, timeout), timeout)
        except BufferFull:
            reason = "the client did not keep up"
            await backend.close(self.id, CloseCode.BUFFER_OVERFLOW, reason)
            raise self._ended(SessionClosed.create(CloseCode.BUFFER_OVERFLOW, reason)) from None
        except UnknownSession:
            raise self._ended(
                SessionClosed.create(CloseCode.SESSION_EXPIRED, "session expired")
            ) from None
        except SessionClosed as exc:
            raise self._ended(exc) from None

    async def receive(self) -> Message:
        """Wait for the next message (text or binary) from the client.

        Events from the client are not messages: they wait for :meth:`events` (see
        :mod:`realtime.events` for what happens when nothing reads them). A backend outage
        is waited out.

        Raises:
            SessionClosed: the session ended; messages received before the end come first.
        """
        router = self._router
        if router is None:  # no event seen yet: the plain path, without a router
            self._taking = self._read_raw = True
            try:
                if self._closed is not None:
                    raise self._closed
                # _take's work, without its frame: an idle handler waits here.
                try:
                    data = await self._backend.receive(self.id)
                except (BackendError, UnknownSession, SessionClosed) as exc:
                    data = await self._take_after(exc)
            except BaseException as exc:
                self._taking = False
                if self._router is not None:  # one was made meanwhile: it waited for this read
                    cancelled = isinstance(exc, asyncio.CancelledError)
                    self._router.finished(error=None if cancelled else exc)
                raise
            self._taking = False
            router = self._router
            if router is None:
                if type(data) is not Envelope:
                    return data
                router = self._events_router()
            router.finished(data)
        return await router.next_raw()

    async def _take(self) -> Message:
        """The next message of any kind from the backend."""
        if self._closed is not None:
            raise self._closed
        try:
            return await self._backend.receive(self.id)
        except (BackendError, UnknownSession, SessionClosed) as exc:
            return await self._take_after(exc)

    async def _take_after(self, error: Exception) -> Message:
        """What a take that raised ``error`` comes to: a backend outage is waited out."""
        backend = self._backend
        try:
            if not isinstance(error, BackendError):
                raise error
            return await _retrying(lambda: backend.receive(self.id), None)
        except UnknownSession:
            raise self._ended(
                SessionClosed.create(CloseCode.SESSION_EXPIRED, "session expired")
            ) from None
        except SessionClosed as exc:
            raise self._ended(exc) from None

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:  # raw messages only
        try:
            while True:
                yield await self.receive()
        except SessionClosedOK:
            return

    # -- Events and calls -----------------------------------------------------------------

    def _events_router(self) -> Router:
        if self._router is None:
            limit = self._settings.max_queue or 1024
            self._router = Router(self._take, self.send, limit, self._refuse)
            self._router.reading = self._taking  # receive() reads already: it hands over
            self._router.read_raw = self._read_raw
        return self._router

    async def _refuse(self, reason: str) -> None:
        await self.close(CloseCode.UNSUPPORTED_DATA, reason)

    async def emit(self, name: str, data: Any = None) -> None:
        """Send the event ``name`` with JSON ``data`` (the JS client's ``rt.on(name, fn)``
        gets it); waits, and raises, as :meth:`send` does (``TypeError`` if ``data`` is not
        JSON)."""
        await self._events_router().emit(name, data)

    async def next_event(self) -> Event:
        """The next event (or call) from the client. Raises ``SessionClosed``."""
        return await self._events_router().next_event()

    async def events(self) -> AsyncIterator[Event]:
        """The client's events and calls, in order, until the session ends normally::

        async for event in session.events():
            if event.name == "add":
                await event.reply(sum(event.data))
        """
        try:
            while True:
                yield await self.next_event()
        except SessionClosedOK:
            return

    async def call(self, name: str, data: Any = None, *, timeout: float | None = 10.0) -> Any:
        """Call the client's handler of ``name`` (JS ``rt.on(name, fn)``, Python
        ``conn.on(name, fn)``) and return its reply. The call and its reply are sequenced
        messages: a reconnection in between, on any transport, loses and doubles nothing.

        Raises:
            CallTimeout: no reply within ``timeout`` seconds.
            CallError: the client's handler failed (its message says why).
            SessionClosed: the session ended first.
        """
        return await self._events_router().call(name, data, timeout)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """End the session: the client receives every message sent so far, then the close.

        Raises:
            ValueError: ``code`` is not a valid close code.
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
        """
        check_close_code(code)
        backend, reason = self._backend, truncate_reason(reason)
        await self._outlasting(lambda: backend.close(self.id, int(code), reason))

    async def join(self, room: str, *, announce: bool = False) -> None:
        """Join ``room``: messages published to it reach this session.

        With ``announce``, the room's other members get the event ``presence:join`` with
        ``{"room", "session", "user"}``, and ``presence:leave`` when this session leaves it
        or ends (not when a shutdown cancels its handler: the session lives on).

        Raises:
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
            ValueError: ``room`` starts with ``realtime:``, which the library keeps.
        """
        if room.startswith(RESERVED_PREFIX):
            raise ValueError(f"room names starting with {RESERVED_PREFIX!r} are reserved")
        backend = self._backend
        await self._outlasting(lambda: backend.join(self.id, room))
        if announce:
            self._announced.add(room)
            await self.save()
            await self._hub.emit(room, JOINED, self._presence(room), exclude=self.id)

    async def leave(self, room: str) -> None:
        """Leave ``room`` (its members hear of it if the join was announced).

        Raises:
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
        """
        backend = self._backend
        await self._outlasting(lambda: backend.leave(self.id, room))
        if room in self._announced:
            self._announced.discard(room)
            await self.save()
            await self._hub.emit(room, LEFT, self._presence(room))

    def _presence(self, room: str) -> dict[str, Any]:
        return {"room": room, "session": self.id, "user": self.user}

    async def _announce_leaves(self) -> None:
        """The session ended: tell the members of the rooms it announced itself in."""
        for room in sorted(self._announced):
            await self._hub.emit(room, LEFT, self._presence(room))
        self._announced.clear()

    # -- State ----------------------------------------------------------------------------

    async def save(self) -> None:
        """Store :attr:`state` with the session, for a handler that restarts (in any process
        sharing the backend) after this one stops unfinished.

        Raises:
            TypeError: the state is not JSON.
            ValueError: it is over ``MAX_STATE_BYTES`` as JSON.
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
        """
        saved = json.dumps(
            {"state": self.state, "announced": sorted(self._announced)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        size = len(saved.encode("utf-8"))
        if size > MAX_STATE_BYTES:
            raise ValueError(f"session state of {size} bytes is over {MAX_STATE_BYTES}")
        backend = self._backend
        await self._outlasting(lambda: backend.save_state(self.id, saved))

    async def _restore(self) -> None:
        """Take back what the previous handler saved (a restarted handler starts with it)."""
        backend = self._backend
        saved = await self._outlasting(lambda: backend.load_state(self.id))
        if saved is not None:
            fields = json.loads(saved)
            self.state = fields["state"]
            self._announced = set(fields["announced"])

    async def rooms(self) -> set[str]:
        """The rooms this session is in.

        Raises:
            BackendError: the backend stayed unavailable for ``send_timeout`` seconds.
        """
        backend = self._backend
        rooms = await self._outlasting(lambda: backend.rooms(self.id))
        return {room for room in rooms if not room.startswith(RESERVED_PREFIX)}

    async def _outlasting(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a backend ``operation``, riding out an outage as ``send`` does."""
        return await _retrying(operation, self._settings.send_timeout)


async def _retrying(operation: Callable[[], Awaitable[T]], timeout: float | None) -> T:
    """Run ``operation``, retrying while the backend is unavailable, for up to ``timeout``
    seconds (None: until it is back). A handler does not see a short backend outage."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delay = 0.05
    while True:
        try:
            return await operation()
        except BackendError:
            if deadline is not None and loop.time() + delay > deadline:
                raise
            logger.warning("backend unavailable; retrying in %.2f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
