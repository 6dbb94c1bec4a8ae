"""RealtimeApp: the ASGI app that serves negotiation and the three transports.

Mount it anywhere in a Starlette or FastAPI app::

    app = Starlette(routes=[Mount("/realtime", RealtimeApp(handler))])

Starlette does not pass lifespan events to mounted apps, so background work (the reaper of
expired sessions) starts with the first request. For a graceful shutdown, wire
:meth:`RealtimeApp.lifespan` into the outer app (``Starlette(lifespan=rt.lifespan)``).

This module only routes and runs the lifespan; the parts it wires together live in
:mod:`realtime.server` (settings, engine, handler supervisor, session, hub, negotiation) and
:mod:`realtime.transports`. The app runs on asyncio (uvicorn, hypercorn's asyncio worker, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.routing import Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend
from realtime.observe import Metrics, Observer
from realtime.protocol.codes import CloseCode
from realtime.server.admission import Authenticate, NegotiateEndpoint, TicketEndpoint
from realtime.server.engine import Engine
from realtime.server.hub import Hub
from realtime.server.routing import FastRouter
from realtime.server.security import CORS, OriginPolicy
from realtime.server.settings import Settings
from realtime.server.signals import SignalDrain
from realtime.server.static import StaticAsset
from realtime.server.supervisor import Handler, Supervisor
from realtime.transports.longpoll import LongPollTransport
from realtime.transports.sse import SSETransport
from realtime.transports.upstream import UpstreamEndpoint
from realtime.transports.websocket import WebSocketTransport, upgrade_required
from realtime.types import TRANSPORT_NAMES, TransportName

__all__ = ["Handler", "RealtimeApp"]

SCRIPT = "text/javascript; charset=utf-8"
CLIENT_BUILDS = {
    "/client.js": "realtime.mjs",
    "/realtime.min.js": "realtime.min.js",
    "/realtime.legacy.min.js": "realtime.legacy.min.js",
    "/client.events.js": "realtime.events.mjs",
    "/realtime.events.min.js": "realtime.events.min.js",
}
"""The JavaScript client's builds, served by the mount: ES module, script tag, ES2015 script,
and the first two with events and calls (client-js/src/events.js)."""


class RealtimeApp:
    """An ASGI app serving one session handler over WebSocket, SSE and long-polling.

    Args:
        handler: ``async def handler(session: Session) -> None``, run once per session from
            its first connection; the session ends (code 1000) when it returns, and with
            code 1011 if it raises.
        transports: The transports offered, in order of preference.
        backend: Where sessions live; default a :class:`~realtime.backends.memory.MemoryBackend`.
        ping_interval: Seconds without sending before the server sends a heartbeat ping.
        ping_timeout: Seconds past ``ping_interval`` after which a silent connection is dead.
        poll_timeout: Seconds a long-poll request waits for messages before answering empty.
        send_timeout: Seconds ``session.send`` waits for a slow client before the session ends
            with ``BUFFER_OVERFLOW``; also bounds each write to a connection.
        session_ttl: Seconds a session waits for its client to reconnect before it expires.
        max_message_size: Largest message in bytes (UTF-8 for text), both ways.
        max_queue: Most unacknowledged messages per session and direction.
        max_buffer_bytes: Most bytes of unacknowledged messages per session and direction.
        max_client_bytes: Most bytes the queues of all sessions of one client address hold,
            both directions: past it, a message to them waits (a publish ends the session
            with BUFFER_OVERFLOW, as a full window does) and a message from them is not
            taken (the connection ends with 1013; the client resends after a backoff).
            With a shared backend, the sum over every process. None: no bound.
        max_total_bytes: The same bound on the queues of every session of the backend.
        max_batch: Most frames in one long-poll answer or upstream POST.
        max_rate: Messages per second a client may send, on average; past it the session
            ends with RATE_LIMITED (4006). None: no limit.
        max_burst: Messages a client may send at once above ``max_rate``; default
            ``max_queue``, so that a client flushing what it queued offline is not refused.
        max_frame_rate: Frames per second a client may send on a session, of any kind
            (messages, acks, pings, resends), on average, with a burst of twice
            ``max_burst``; past it the session ends with RATE_LIMITED. Counted by each
            process. Default (None): ``4 * max_rate + 100``, 900 at the default rate; no
            limit when ``max_rate`` is None too.
        max_client_rate: Messages per second all sessions of one client address may send
            to this process, on average (a burst of four times ``max_burst``); past it
            the sending connection ends with 1013 and its client resends after a backoff.
            Default (None): ``10 * max_rate``, 2,000 at the default rate; no limit when
            ``max_rate`` is None too.
        max_sessions: Most sessions in all (with a shared backend: in all processes);
            negotiation past it answers 503 (close code 1013: try again later).
        max_sessions_per_client: Most sessions negotiated from one client address; past it,
            429. Run the server with ``--proxy-headers`` behind a proxy, so the address is
            the client's.
        read_timeout: Seconds a client has to send a request body (negotiation, POST);
            408 after it, against slow clients holding requests open.
        keep_headers: The headers of the negotiation request a session keeps, for
            ``session.headers`` (names, any case). Credentials (``Authorization``,
            ``Cookie``) are never kept: ``authenticate`` reads them at negotiation, and what
            it returns is ``session.user``.
        max_stored_bytes: Most bytes of request data a session keeps: its query string and
            kept headers; a negotiation over it is refused with 431.
        allowed_origins: Origins allowed besides the app's own (``"*"`` allows any), or a
            callable ``(origin) -> bool``. Requests without an Origin header are allowed.
        public_origins: The origins the app is served at, ``scheme://host[:port]``, to
            compare a request's Origin with. Default: the request's own (its scheme and Host
            header). Set it behind a proxy that rewrites Host, and to defeat DNS rebinding (a
            page of ``evil.example`` resolving to this server: its Host matches its Origin).
        authenticate: ``async def authenticate(conn: HTTPConnection) -> user``, called at
            negotiation; returning None refuses with 401, raising
            ``starlette.exceptions.HTTPException`` refuses with its status.
        cors: Answer CORS preflights and add CORS headers for the cross-origin origins of
            ``allowed_origins`` (for a page served from another origin than the app). Off:
            same-origin pages and non-browser clients need no CORS.
        metrics: ``metrics(event, labels)``, called on session events (opened, resumed,
            closed, expired, transport fallbacks): see :mod:`realtime.observe`.
        drain_on_signals: On SIGINT or SIGTERM, tell every client of this process to
            reconnect (1012) at once, as :meth:`drain` does, before the server's own shutdown
            waits for open responses: event streams and long-polls then end in time, with
            plain uvicorn too. The server's handlers still run (see
            :mod:`realtime.server.signals`).

    Raises:
        TypeError: ``handler`` is not callable.
        ValueError: a setting is out of range (the message names it).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        # Transports
        transports: Sequence[TransportName] = TRANSPORT_NAMES,
        # Scale-out
        backend: Backend | None = None,
        # Timeouts (seconds)
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        poll_timeout: float = 20.0,
        send_timeout: float | None = 10.0,
        session_ttl: float = 30.0,
        # Limits
        max_message_size: int | None = 2**20,
        max_queue: int | None = 1024,
        max_buffer_bytes: int | None = 8 * 2**20,
        max_client_bytes: int | None = 16 * 2**20,
        max_total_bytes: int | None = 2**30,
        max_batch: int = 256,
        max_rate: float | None = 200.0,
        max_burst: int | None = None,
        max_frame_rate: float | None = None,
        max_client_rate: float | None = None,
        max_sessions: int | None = 100_000,
        max_sessions_per_client: int | None = 1_000,
        read_timeout: float | None = 10.0,
        keep_headers: Sequence[str] = ("user-agent", "accept-language"),
        max_stored_bytes: int = 4096,
        # Security
        allowed_origins: Sequence[str] | Callable[[str], bool] | None = None,
        public_origins: Sequence[str] | None = None,
        authenticate: Authenticate | None = None,
        cors: bool = False,
        # Operations
        metrics: Metrics | None = None,
        drain_on_signals: bool = True,
    ) -> None:
        if not callable(handler):
            raise TypeError("handler must be an async callable taking a Session")
        self.settings = Settings(
            transports=tuple(transports),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            poll_timeout=poll_timeout,
            send_timeout=send_timeout,
            session_ttl=session_ttl,
            max_message_size=max_message_size,
            max_queue=max_queue,
            max_buffer_bytes=max_buffer_bytes,
            max_client_bytes=max_client_bytes,
            max_total_bytes=max_total_bytes,
            max_batch=max_batch,
            max_rate=max_rate,
            max_burst=max_burst,
            max_frame_rate=max_frame_rate,
            max_client_rate=max_client_rate,
            max_sessions=max_sessions,
            max_sessions_per_client=max_sessions_per_client,
            read_timeout=read_timeout,
            keep_headers=keep_headers,
            max_stored_bytes=max_stored_bytes,
        )
        """The validated settings, frozen."""
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        observer = Observer(metrics)
        self.hub = Hub(self.backend, max_message_size, observer)
        """Publish to rooms and sessions from anywhere: ``await app.hub.publish(room, data)``."""
        clock: Callable[[], float] = time.time  # wall clock: shared by a backend's processes
        self.supervisor = Supervisor(
            handler, self.settings, self.backend, self.hub, observer, clock
        )
        self.engine = Engine(
            self.settings,
            self.backend,
            self.supervisor,
            observer,
            OriginPolicy(allowed_origins, public_origins),
            clock,
        )
        self.router = self._build_router(authenticate)
        self._app: ASGIApp = FastRouter(self.router.routes, self.router)
        if cors:
            self._app = CORS(self._app, self.engine.origins)
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._signals = SignalDrain(self._drain_soon) if drain_on_signals else None
        self._draining_task: asyncio.Task[None] | None = None

    def _build_router(self, authenticate: Authenticate | None) -> Router:
        engine = self.engine
        upstream = UpstreamEndpoint(engine)
        routes: list[Any] = [
            Route("/negotiate", NegotiateEndpoint(engine, authenticate), methods=["POST"]),
            Route("/ticket", TicketEndpoint(engine), methods=["POST"]),
        ]
        routes += [
            Route(path, StaticAsset(name, SCRIPT), methods=["GET", "HEAD"])
            for path, name in CLIENT_BUILDS.items()
        ]
        transports = self.settings.transports
        if "websocket" in transports:
            routes.append(WebSocketRoute("/websocket", WebSocketTransport(engine)))
            routes.append(Route("/websocket", upgrade_required, methods=["GET"]))
        if "sse" in transports:
            routes.append(Route("/sse", SSETransport(engine), methods=["GET"]))
            routes.append(Route("/sse", upstream, methods=["POST"]))
        if "longpoll" in transports:
            routes.append(Route("/longpoll", LongPollTransport(engine), methods=["GET"]))
            routes.append(Route("/longpoll", upstream, methods=["POST"]))
        return Router(routes=routes, lifespan=self._router_lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and not self._started:
            await self.start()
        await self._app(scope, receive, send)

    # -- Settings read by tools (realtime.uvicorn, realtime check) ------------------------

    @property
    def max_message_size(self) -> int | None:
        """Largest message in bytes, both ways (None: no limit)."""
        return self.settings.max_message_size

    # -- Lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the backend, the handler supervisor and its reaper (idempotent)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self.backend.start()
            self.supervisor.start()
            if self._signals is not None:
                self._signals.install()
            self._started = True

    def _drain_soon(self) -> None:
        """A stop signal arrived: drain now, without waiting for the server's shutdown."""
        if self._draining_task is None or self._draining_task.done():
            self._draining_task = asyncio.ensure_future(self.drain())

    @property
    def draining(self) -> bool:
        """Whether this process refuses new connections (it is shutting down)."""
        return self.engine.draining

    async def drain(self, code: int = CloseCode.SERVICE_RESTART, timeout: float = 5.0) -> None:
        """End every connection of this process with ``code`` and refuse new ones.

        Clients reconnect (with jittered backoff) and resume, on another process when the
        backend is shared. Sessions and handlers are left alone. Waits up to ``timeout``
        seconds for the connections to end.
        """
        await self.engine.drain(code, timeout)

    async def shutdown(self, code: int = CloseCode.SERVICE_RESTART) -> None:
        """:meth:`drain`, then stop the handlers, the reaper and the backend.

        Handlers are cancelled without closing their sessions: with a shared backend another
        process resumes them; with the memory backend they end with this process.
        """
        if self._signals is not None:
            self._signals.uninstall()
        await self.drain(code)
        await self.supervisor.stop()
        if self._started:
            await self.backend.stop()
        self._started = False
        self.engine.draining = False

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """A lifespan context for the outer app: ``Starlette(..., lifespan=rt.lifespan)``."""
        await self.start()
        try:
            yield
        finally:
            await self.shutdown()

    @contextlib.asynccontextmanager
    async def _router_lifespan(self, app: object) -> AsyncIterator[None]:
        async with self.lifespan():
            yield

    def connections(self) -> dict[TransportName, int]:
        """This process's open connections, by transport (for a gauge)."""
        counts = dict.fromkeys(TRANSPORT_NAMES, 0)
        for channel in self.engine.channels():
            counts[channel.transport] += 1
        return counts
