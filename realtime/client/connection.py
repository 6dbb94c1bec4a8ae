"""The Python client: one session, carried by whichever transport works, resumed when lost."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from types import TracebackType
from typing import Any

import httpx

from realtime.client.drivers import LongPollDriver, SSEDriver, WebSocketConnect, WebSocketDriver
from realtime.client.engine import ClientState, Ended, Link
from realtime.client.events import EventsMixin
from realtime.events import Router
from realtime.exceptions import (
    InvalidState,
    NegotiationError,
    ProtocolError,
    SessionClosed,
    SessionClosedOK,
)
from realtime.protocol.codes import CloseCode
from realtime.protocol.codes import reconnect_policy as policy_of
from realtime.protocol.frames import Close, check_close_code, check_message
from realtime.protocol.negotiate import Negotiated, encode_request
from realtime.types import TRANSPORT_NAMES, Message, TransportName
from realtime.wakeup import wait_event

__all__ = ["Connection", "connect"]

logger = logging.getLogger("realtime.client")

OnReset = Callable[[int, str], Awaitable[None] | None]

_TRANSPORTS: dict[str, type[WebSocketDriver | SSEDriver | LongPollDriver]] = {
    "websocket": WebSocketDriver,
    "sse": SSEDriver,
    "longpoll": LongPollDriver,
}
_ACK_DELAY = {"websocket": 0.05, "sse": 0.25, "longpoll": 0.0}


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Full jitter: uniform between 0 and ``min(maximum, initial * 2**attempt)``."""
    return random.uniform(0, min(maximum, initial * 2 ** min(attempt, 32)))


class Connection(EventsMixin):
    """A client session. Get one with :func:`connect`, which takes the same arguments.

    Messages sent while the connection is down are kept and delivered after it resumes;
    messages from the server arrive once each, in order, whatever happens in between.

    Args:
        url: The mount URL, e.g. ``"http://localhost:8000/realtime"``; its query string goes
            with the negotiation request (the handler sees it as ``session.query_params``).
        transport: Force one transport; by default the best that works is used, falling back
            from websocket to sse to longpoll.
        transports: The transports allowed, in order of preference.
        headers: Headers for every HTTP request (for the app's authentication hook).
        open_timeout: Seconds a transport has to deliver its hello before the next is tried.
        close_timeout: Seconds ``close()`` waits for the server to confirm.
        reconnect: Resume the session after a lost connection (with jittered backoff).
        backoff_initial: The first reconnection delay's upper bound, in seconds; it doubles
            at each failed attempt (the delay is drawn uniformly below it: full jitter).
        backoff_max: The largest upper bound of a reconnection delay, in seconds.
        on_reset: Called with ``(code, reason)`` when the session was lost beyond resume
            (expired, replay gap, overflow) and a new one was started. Without it the
            connection ends instead and ``receive`` raises ``SessionClosed``.
        http_transport: The httpx transport of every HTTP request (default: the network).
        websocket_connect: ``await websocket_connect(url, open_timeout)`` opens a WebSocket
            with the API of ``websockets``' ``ClientConnection`` (default: ``websockets``).
            These two let :mod:`realtime.testing` run a client against an app in-process.
    """

    def __init__(
        self,
        url: str,
        *,
        transport: TransportName | None = None,
        transports: Sequence[TransportName] = TRANSPORT_NAMES,
        headers: dict[str, str] | None = None,
        open_timeout: float = 5.0,
        close_timeout: float = 10.0,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        on_reset: OnReset | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        websocket_connect: WebSocketConnect | None = None,
    ) -> None:
        if transport is not None:
            transports = (transport,)
        unknown = [t for t in transports if t not in TRANSPORT_NAMES]
        if unknown or not transports:
            raise ValueError(f"transports must be names among {TRANSPORT_NAMES}, got {unknown}")
        base, _, query = url.partition("?")
        self.url = base.rstrip("/")
        self._query = query
        """Query of ``url``: sent with the negotiation, where the handler can read it."""
        self._wanted: tuple[TransportName, ...] = tuple(transports)
        self._headers = dict(headers or {})
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.on_reset = on_reset
        self._http = httpx.AsyncClient(
            headers=self._headers, timeout=open_timeout, transport=http_transport
        )
        self._websocket_connect = websocket_connect
        self._state: ClientState | None = None
        self._carried: deque[Message] = deque()  # unread messages of a session lost before
        self._link: Link | None = None
        self._preferred: TransportName | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._running: asyncio.Task[Ended] | None = None  # the open connection's loop
        self._closed: SessionClosed | None = None
        self._done = asyncio.Event()
        self._router = Router(self._take, self.send, 1024, self._refuse)  # limit: the window
        self._pump: asyncio.Task[None] | None = None
        self.transport: TransportName | None = None
        """The transport in use now (the last one that worked, while reconnecting)."""
        self.reconnects = 0
        """How many times a lost connection was resumed."""
        self.failures: list[tuple[TransportName, str]] = []
        """Why transports failed to open, latest last (bounded)."""
        self.last_disconnect: tuple[int, str] | None = None
        """How the last connection that worked ended: (close code, reason)."""

    # -- Opening --------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The id of the current session (it changes when ``on_reset`` starts a new one)."""
        return self._session.negotiated.session_id

    @property
    def _session(self) -> ClientState:
        if self._state is None:
            raise InvalidState("the connection is not open yet")
        return self._state

    async def _negotiate(self) -> ClientState:
        body = encode_request(self._wanted)
        try:
            query = f"?{self._query}" if self._query else ""
            response = await self._http.post(f"{self.url}/negotiate{query}", json=body)
        except httpx.HTTPError as exc:
            raise NegotiationError(f"negotiation failed: {exc!r}") from exc
        if response.status_code != 200:
            code = None
            with contextlib.suppress(ValueError, AttributeError):
                code = response.json().get("code")
            raise NegotiationError(
                f"negotiation refused: HTTP {response.status_code} {response.text[:200]}",
                status=response.status_code,
                code=code,
            )
        try:
            negotiated = Negotiated.from_json(response.json())
        except (ValueError, ProtocolError) as exc:
            raise NegotiationError(f"bad negotiation answer: {exc}") from exc
        return ClientState(negotiated)

    async def _open(self) -> None:
        try:
            self._state = await self._negotiate()
            self._router.limit = self._state.negotiated.max_queue or 1024
            ended = await self._connect()
            if self._link is None:
                raise NegotiationError(self._why_not(ended), code=ended.code if ended else None)
        except BaseException:
            await self._http.aclose()
            raise
        self._supervisor = asyncio.create_task(self._supervise(ended))

    def _why_not(self, ended: Ended | None) -> str:
        if ended is not None:
            return f"connection refused: {ended.code} {ended.reason}"
        reasons = "; ".join(f"{name}: {why}" for name, why in self.failures[-3:])
        return f"no transport could connect ({reasons})"

    def _candidates(self) -> list[TransportName]:
        offered = [t for t in self._wanted if t in self._session.negotiated.transports]
        if self._preferred in offered:
            offered.remove(self._preferred)
            offered.insert(0, self._preferred)
        return offered

    async def _connect(self) -> Ended | None:
        """Open the first transport that delivers its hello.

        On success ``self._link`` is set, ``self._running`` runs the connection, and None is
        returned. Otherwise returns the :class:`Ended` of a refusal that no other transport
        would change (unknown session, wrong token...), or None if nothing opened in time.
        """
        session = self._session
        negotiated = session.negotiated
        loop = asyncio.get_running_loop()
        fallback: str | None = None
        for name in self._candidates():
            transport = _TRANSPORTS[name](
                self.url,
                negotiated.session_id,
                session.token,
                self._http,
                max_batch=negotiated.max_batch or 256,
                open_timeout=self.open_timeout,
                websocket_connect=self._websocket_connect,
            )
            transport.fallback = fallback
            link = Link(
                session, loop.time(), ack_delay=_ACK_DELAY[name], acks_in_band=name != "longpoll"
            )
            task = asyncio.create_task(transport.run(link))
            opened = asyncio.create_task(link.opened.wait())
            try:
                await asyncio.wait(
                    {task, opened}, timeout=self.open_timeout, return_when=asyncio.FIRST_COMPLETED
                )
            except BaseException:  # close() cancelled this attempt: it must not live on
                for pending in (task, opened):
                    pending.cancel()
                await asyncio.gather(task, opened, return_exceptions=True)
                raise
            opened.cancel()
            if link.opened.is_set():
                self._link, self.transport, self._preferred = link, name, name
                self._running = task
                # send(), close() and receive() wake the current link; what they did while none
                # was current (since the hello, this link's writer may already wait) is news.
                link.wakeup.set()
                return None
            task.cancel()
            (result,) = await asyncio.gather(task, return_exceptions=True)
            ended = result if isinstance(result, Ended) else None
            if ended is not None:
                why, fallback = ended.reason, f"{name}:open"
            elif isinstance(result, asyncio.CancelledError):
                why, fallback = f"no hello within {self.open_timeout} s", f"{name}:hello"
            else:
                why, fallback = f"failed: {result!r}", f"{name}:open"
            self.failures = [*self.failures[-9:], (name, why)]
            if ended is not None and (ended.over or policy_of(ended.code) != "resume"):
                return ended
        return None

    # -- Supervision ----------------------------------------------------------------------

    async def _supervise(self, refused: Ended | None) -> None:
        attempt = 0
        try:
            while True:
                ended = refused or await self._running_end()
                refused = None
                policy = policy_of(ended.code)
                if ended.over and policy == "resume":
                    policy = "new"  # the session is over, but the server wants the client back
                if not self.reconnect or (self._session.closing is not None and policy == "new"):
                    policy = "stop"
                if policy == "stop":
                    self._finish(ended.code, ended.reason)
                    return
                if policy == "new" and not await self._reset(ended):
                    return
                while True:
                    await asyncio.sleep(
                        backoff_delay(attempt, self.backoff_initial, self.backoff_max)
                    )
                    attempt += 1
                    refused = await self._connect()
                    if self._link is not None or refused is not None:
                        break
                if self._link is not None:
                    attempt = 0
                    self.reconnects += 1
                    logger.info("session %s resumed over %s", self.session_id, self.transport)
        except Exception as exc:
            logger.exception("client session failed")
            self._finish(CloseCode.INTERNAL_ERROR, f"client failed: {exc!r}")

    async def _running_end(self) -> Ended:
        assert self._running is not None
        try:
            ended = await self._running
        finally:
            self._link = None
        self.last_disconnect = (ended.code, ended.reason)
        return ended

    async def _reset(self, ended: Ended) -> bool:
        """Start a new session after ``ended`` lost the old one; False if that is not wanted."""
        if self.on_reset is None:
            self._finish(ended.code, ended.reason)
            return False
        old = self._session
        attempt = 0
        while True:
            try:
                self._state = await self._negotiate()
                break
            except NegotiationError as exc:
                refused = exc.status is not None and 400 <= exc.status < 500
                if refused and policy_of(exc.code or 0) != "resume":  # 1013: try again later
                    self._finish(ended.code, ended.reason)
                    return False
                await asyncio.sleep(backoff_delay(attempt, self.backoff_initial, self.backoff_max))
                attempt += 1
        # What arrived on the old session before it ended is still delivered, first.
        self._carried.extend(old.inbox)
        old.inbox.clear()
        for signal in (old.inbox_signal, old.room_signal, old.read_signal):
            signal.notify()
        result = self.on_reset(ended.code, ended.reason)
        if inspect.isawaitable(result):
            await result
        return True

    def _finish(self, code: int, reason: str) -> None:
        if self._closed is None:
            self._closed = SessionClosed.create(code, reason)
        if self._state is not None:
            for signal in (
                self._state.inbox_signal,
                self._state.room_signal,
                self._state.read_signal,
            ):
                signal.notify()
        self._done.set()

    # -- Application API ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def close_code(self) -> int | None:
        return None if self._closed is None else self._closed.code

    @property
    def close_reason(self) -> str | None:
        return None if self._closed is None else self._closed.reason

    async def send(self, data: Message) -> None:
        """Send a message; waits while ``max_queue`` messages are unacknowledged.

        Raises:
            SessionClosed: the session ended.
            InvalidState: ``close()`` was called.
            PayloadTooBig, TypeError: ``data`` is too large, or neither str nor bytes.
        """
        while True:
            if self._closed is not None:
                raise self._closed
            session = self._session
            if session.closing is not None:
                raise InvalidState("the connection is closing")
            size = check_message(data, session.negotiated.max_message_size)
            if session.outbox.has_room(size):
                break
            await session.room_signal.wait()
        session.outbox.append(data, size)
        if self._link is not None:
            self._link.wakeup.set()

    async def receive(self) -> Message:
        """The next message (text or binary) from the server; its events go to ``on``
        handlers and ``events()``.

        Raises:
            SessionClosed: the session ended (messages received before come first).
        """
        return await self._router.next_raw()

    async def _refuse(self, reason: str) -> None:
        await self.close(CloseCode.UNSUPPORTED_DATA, reason)

    async def _take(self) -> Message:
        """The next message of any kind from the server."""
        while True:
            if self._carried:
                return self._carried.popleft()
            session = self._session
            if session.inbox:
                data = session.inbox.popleft()
                session.read_signal.notify()
                if self._link is not None:
                    self._link.consumed(asyncio.get_running_loop().time())
                return data
            if self._closed is not None:
                raise self._closed
            await session.inbox_signal.wait()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        try:
            while True:
                yield await self.receive()
        except SessionClosedOK:
            return

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the session once every message sent so far was delivered.

        Waits up to ``close_timeout`` for the server to confirm, then gives up.
        """
        check_close_code(code)
        if self._closed is None and self._state is not None and self._session.closing is None:
            self._session.closing = Close(code, reason)
            if self._link is not None:
                self._link.wakeup.set()
            await wait_event(self._done, self.close_timeout)
            self._finish(code, reason)
        await self._shutdown()

    async def _shutdown(self) -> None:
        await self._stop_events()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
        self._finish(CloseCode.NORMAL_CLOSURE, "")
        await self._http.aclose()


class connect:  # used like a function, as websockets.connect
    """Open a session: ``async with connect(url) as conn:`` or ``conn = await connect(url)``.

    Takes the arguments of :class:`Connection`, and gives one once it is open.

    Raises:
        NegotiationError: the server refused the session, or no transport could connect.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._connection = Connection(url, **options)

    async def _open(self) -> Connection:
        await self._connection._open()
        return self._connection

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._open().__await__()

    async def __aenter__(self) -> Connection:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._connection.close()
