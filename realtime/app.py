"""RealtimeApp: the ASGI app that serves negotiation and the three transports.

Mount it anywhere in a Starlette or FastAPI app::

    app = Starlette(routes=[Mount("/realtime", RealtimeApp(handler))])

Starlette does not pass lifespan events to mounted apps, so background work (the reaper of
expired sessions) starts with the first request. For a graceful shutdown, wire
:meth:`RealtimeApp.lifespan` into the outer app (``Starlette(lifespan=rt.lifespan)``).

The app runs on asyncio (uvicorn, hypercorn's asyncio worker, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import HTTPConnection
from starlette.routing import Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from realtime._routing import FastRouter
from realtime._static import StaticAsset
from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend
from realtime.exceptions import SessionClosed
from realtime.hub import Hub
from realtime.negotiation import NegotiateEndpoint
from realtime.observe import Metrics, Observer
from realtime.protocol.frames import CloseCode
from realtime.protocol.session import Attached
from realtime.security import CORS, OriginPolicy
from realtime.session import Session, check_message
from realtime.transports.base import Connection, query_of
from realtime.transports.longpoll import LongPollTransport
from realtime.transports.sse import SSETransport
from realtime.transports.upstream import UpstreamEndpoint
from realtime.transports.websocket import WebSocketTransport
from realtime.types import TRANSPORT_NAMES, Message, SessionId, TransportName

__all__ = ["Handler", "RealtimeApp"]

logger = logging.getLogger("realtime")

Handler = Callable[[Session], Awaitable[None]]
Authenticate = Callable[[HTTPConnection], Awaitable[object]]


def _positive(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None:
        if not optional:
            raise ValueError(f"{name} may not be None")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}")


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
        max_batch: Most frames in one long-poll answer or upstream POST.
        max_rate: Messages per second a client may send, on average; past it the session
            ends with RATE_LIMITED (4006). None: no limit.
        max_burst: Messages a client may send at once above ``max_rate``; default
            ``max_queue``, so that a client flushing what it queued offline is not refused.
        max_sessions: Most sessions in all (with a shared backend: in all processes);
            negotiation past it answers 503 (close code 1013: try again later).
        max_sessions_per_client: Most sessions negotiated from one client address; past it,
            429. Run the server with ``--proxy-headers`` behind a proxy, so the address is
            the client's.
        read_timeout: Seconds a client has to send a request body (negotiation, POST);
            408 after it, against slow clients holding requests open.
        allowed_origins: Origins allowed besides the app's own (``"*"`` allows any), or a
            callable ``(origin) -> bool``. Requests without an Origin header are allowed.
        authenticate: ``async def authenticate(conn: HTTPConnection) -> user``, called at
            negotiation; returning None refuses with 401, raising
            ``starlette.exceptions.HTTPException`` refuses with its status.
        cors: Answer CORS preflights and add CORS headers for the cross-origin origins of
            ``allowed_origins`` (for a page served from another origin than the app). Off:
            same-origin pages and non-browser clients need no CORS.
        metrics: ``metrics(event, labels)``, called on session events (opened, resumed,
            closed, expired, transport fallbacks): see :mod:`realtime.observe`.
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
        max_batch: int = 256,
        max_rate: float | None = 200.0,
        max_burst: int | None = None,
        max_sessions: int | None = 100_000,
        max_sessions_per_client: int | None = 1_000,
        read_timeout: float | None = 10.0,
        # Security
        allowed_origins: Sequence[str] | Callable[[str], bool] | None = None,
        authenticate: Authenticate | None = None,
        cors: bool = False,
        # Operations
        metrics: Metrics | None = None,
    ) -> None:
        if not callable(handler):
            raise TypeError("handler must be an async callable taking a Session")
        unknown = [t for t in transports if t not in TRANSPORT_NAMES]
        if unknown or not transports or len(set(transports)) != len(transports):
            raise ValueError(f"transports must be distinct names among {TRANSPORT_NAMES}")
        _positive("ping_interval", ping_interval, optional=True)
        _positive("ping_timeout", ping_timeout, optional=True)
        _positive("poll_timeout", poll_timeout)
        _positive("send_timeout", send_timeout, optional=True)
        _positive("session_ttl", session_ttl)
        _positive("max_rate", max_rate, optional=True)
        _positive("read_timeout", read_timeout, optional=True)
        for name, size in (
            ("max_message_size", max_message_size),
            ("max_queue", max_queue),
            ("max_buffer_bytes", max_buffer_bytes),
            ("max_burst", max_burst),
            ("max_sessions", max_sessions),
            ("max_sessions_per_client", max_sessions_per_client),
        ):
            if size is not None and (not isinstance(size, int) or size < 1):
                raise ValueError(f"{name} must be a positive int or None, not {size!r}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, not {max_batch!r}")

        self.handler = handler
        self.transports: tuple[TransportName, ...] = tuple(transports)
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.poll_timeout = float(poll_timeout)
        self.send_timeout = send_timeout
        self.session_ttl = float(session_ttl)
        self.max_message_size = max_message_size
        self.max_queue = max_queue
        self.max_buffer_bytes = max_buffer_bytes
        self.max_batch = max_batch
        self.max_rate = max_rate
        self.max_burst = max_burst if max_burst is not None else (max_queue or 1024)
        self.max_sessions = max_sessions
        self.max_sessions_per_client = max_sessions_per_client
        self.read_timeout = read_timeout
        self.origins = OriginPolicy(allowed_origins)
        self.authenticate = authenticate
        self.cors = cors
        self.observer = Observer(metrics)
        self.hub = Hub(self)
        """Publish to rooms and sessions from anywhere: ``await app.hub.publish(room, data)``."""
        self.clock: Callable[[], float] = time.time
        """Wall-clock time for session timestamps (shared by every process of a backend)."""

        self._sessions: dict[SessionId, Session] = {}  # sessions whose handler runs here
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[Connection] = set()
        self._started = False
        self._draining = False
        self._start_lock: asyncio.Lock | None = None
        self._reaper: asyncio.Task[None] | None = None
        self.router = self._build_router()
        self._app = self._build_app()

    def _build_router(self) -> Router:
        upstream = UpstreamEndpoint(self)
        script = "text/javascript; charset=utf-8"
        routes: list[Any] = [
            Route("/negotiate", NegotiateEndpoint(self), methods=["POST"]),
            Route("/client.js", StaticAsset("realtime.mjs", script), methods=["GET", "HEAD"]),
            Route(
                "/realtime.min.js", StaticAsset("realtime.min.js", script), methods=["GET", "HEAD"]
            ),
            Route(
                "/realtime.legacy.min.js",
                StaticAsset("realtime.legacy.min.js", script),
                methods=["GET", "HEAD"],
            ),
        ]
        if "websocket" in self.transports:
            routes.append(WebSocketRoute("/websocket", WebSocketTransport(self)))
        if "sse" in self.transports:
            routes.append(Route("/sse", SSETransport(self), methods=["GET"]))
            routes.append(Route("/sse", upstream, methods=["POST"]))
        if "longpoll" in self.transports:
            routes.append(Route("/longpoll", LongPollTransport(self), methods=["GET"]))
            routes.append(Route("/longpoll", upstream, methods=["POST"]))
        return Router(routes=routes, lifespan=self._router_lifespan)

    def _build_app(self) -> ASGIApp:
        app = FastRouter(self.router.routes, self.router)
        return CORS(app, self.origins) if self.cors else app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and not self._started:
            await self.start()
        await self._app(scope, receive, send)

    # -- Lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the backend and the reaper of expired sessions (idempotent)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self.backend.start()
            self.backend.watch_transports(self._transport_changed)
            self._reaper = asyncio.create_task(self._reap(), name="realtime-reaper")
            self._started = True

    @property
    def draining(self) -> bool:
        """Whether this process refuses new connections (it is shutting down)."""
        return self._draining

    async def drain(self, code: int = CloseCode.SERVICE_RESTART, timeout: float = 5.0) -> None:
        """End every connection of this process with ``code`` and refuse new ones.

        Clients reconnect (with jittered backoff) and resume, on another process when the
        backend is shared. Sessions and handlers are left alone. Waits up to ``timeout``
        seconds for the connections to end.
        """
        self._draining = True
        for listener in list(self._connections):
            listener.disconnect(code, "server shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._connections and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def shutdown(self, code: int = CloseCode.SERVICE_RESTART) -> None:
        """:meth:`drain`, then stop the handlers, the reaper and the backend.

        Handlers are cancelled without closing their sessions: with a shared backend another
        process resumes them; with the memory backend they end with this process.
        """
        await self.drain(code)
        for task in list(self._tasks):
            task.cancel()
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(
            *self._tasks, *(t for t in [self._reaper] if t), return_exceptions=True
        )
        if self._started:
            await self.backend.stop()
        self._started = False
        self._reaper = None
        self._draining = False

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

    async def _reap(self) -> None:
        interval = min(1.0, self.session_ttl / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                for session_id in await self.backend.expire(self.clock(), self.session_ttl):
                    self.observer.expired(session_id)
                for session_id in await self.backend.orphans():
                    snapshot = await self.backend.snapshot(session_id)
                    if snapshot is not None:
                        await self._ensure_handler(session_id, snapshot.transport)
            except Exception:
                logger.exception("expiring sessions failed")

    # -- For transports -------------------------------------------------------------------

    def connections(self) -> dict[TransportName, int]:
        """This process's open connections, by transport (for a gauge)."""
        counts = dict.fromkeys(TRANSPORT_NAMES, 0)
        for listener in self._connections:
            counts[listener.transport] += 1
        return counts

    async def _connected(
        self,
        session_id: SessionId,
        conn: Connection,
        attached: Attached,
        request: HTTPConnection,
    ) -> None:
        """A transport attached a new connection: start the handler if needed, say so."""
        await self._ensure_handler(session_id, conn.transport)
        self.observer.connected(
            session_id,
            conn.transport,
            first=attached.first,
            client=request.client.host if request.client else None,
            fallback=query_of(request).get("fb"),  # not cached on the request
        )

    def _check_outgoing(self, data: Message) -> int:
        return check_message(data, self.max_message_size)

    def _track(self, conn: Connection) -> None:
        self._connections.add(conn)

    def _untrack(self, conn: Connection) -> None:
        self._connections.discard(conn)

    def _transport_changed(self, session_id: SessionId, transport: TransportName) -> None:
        """A connection of ``session_id`` attached, in any process sharing the backend."""
        session = self._sessions.get(session_id)
        if session is not None:
            session._transport = transport

    async def _ensure_handler(self, session_id: SessionId, transport: TransportName | None) -> None:
        """Start the session's handler here unless it already runs (here or elsewhere)."""
        if session_id in self._sessions:
            return
        claim = await self.backend.claim_handler(session_id)
        if claim is None:
            return
        info = await self.backend.info(session_id)
        if info is None:
            await self.backend.release_handler(session_id, finished=True)
            return
        session = Session(self, info, restarted=claim == "restart")
        session._transport = transport
        self._sessions[session_id] = session
        task = asyncio.create_task(
            self._run_handler(session), name=f"realtime-handler-{session_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, session: Session) -> None:
        code: int = CloseCode.NORMAL_CLOSURE
        reason = ""
        cancelled = False
        try:
            await self.handler(session)
        except SessionClosed:
            pass
        except asyncio.CancelledError:
            cancelled = True  # shutdown: the session outlives this process's handler
            raise
        except Exception:
            logger.exception("handler of session %s raised", session.id)
            code, reason = CloseCode.INTERNAL_ERROR, "internal error"
        finally:
            self._sessions.pop(session.id, None)
            with contextlib.suppress(Exception):
                if not cancelled:
                    await self.backend.close(session.id, code, reason)
                    ended = await self.backend.snapshot(session.id)  # the first close wins
                    if ended is not None and ended.close_code is not None:
                        code, reason = ended.close_code, ended.close_reason
                    self.observer.closed(session.id, session.transport, code, reason)
                await self.backend.release_handler(session.id, finished=not cancelled)
