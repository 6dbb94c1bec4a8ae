"""The server engine: everything between the transports and the backend.

Transports move ASGI messages and bytes; the engine does the rest, the same way for all three:

- **Opening** (:meth:`Engine.find`, :meth:`Engine.open`, :meth:`Engine.release`): find the
  session a request names (Origin, token), attach a :class:`Channel` to it, start its handler
  if needed, and detach when the connection ends.
- **Inbound** (:meth:`Engine.take`): decode one frame from the client, hand it to the session,
  and map every way that can fail to its close code, in one table (:func:`refusal_for`).
- **Outbound** (:meth:`Engine.pump`, :meth:`Engine.poll`): which frames go out, in what order
  (owed control frames, the session's messages, then the close), for a stream or a poll.
  A stream's frames are written by its :class:`~realtime.server.pump.Pump`, often inline by
  the task that made the news.

The streaming loop lives in :mod:`realtime.server.pump`.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection

from realtime.backends.base import Backend, SessionInfo
from realtime.backends.memory import MemoryBackend
from realtime.exceptions import (
    BackendError,
    InboxFull,
    OverBudget,
    ProtocolError,
    RateLimited,
    ReplayGap,
    SessionClosed,
    UnknownSession,
)
from realtime.observe import Observer
from realtime.protocol.codes import CLOSE_CODE_EXPLANATIONS, CloseCode
from realtime.protocol.connection import ConnectionProtocol, Violation
from realtime.protocol.frames import (
    Ack,
    Close,
    Data,
    Hello,
    Ping,
    Pong,
    Reconnect,
    decode_last,
    encode_ack,
    encode_data,
    encode_frame,
    message_size,
    truncate_reason,
)
from realtime.protocol.limits import Buckets
from realtime.server import credentials
from realtime.server.http import query_of
from realtime.server.pump import WRITE_BATCH_BYTES, Pump, StreamWriter
from realtime.server.refusals import (
    BACKEND_UNAVAILABLE,
    DRAINING,
    UNKNOWN_SESSION,
    Refusal,
    origin_refused,
)
from realtime.server.security import OriginPolicy
from realtime.server.settings import Settings
from realtime.server.supervisor import Supervisor
from realtime.types import SessionId, TransportName
from realtime.wakeup import Flag

__all__ = ["Channel", "Engine", "StreamWriter", "Taken", "refusal_for"]

REFUSED_BY_THE_WEBSOCKET_LAYER = frozenset(
    {CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA, CloseCode.MESSAGE_TOO_BIG}
)
"""Close codes with which the server's WebSocket implementation refuses a client's frame."""

WINDOW_EXCEEDED = "the client sent past its window (max_queue messages or max_buffer_bytes bytes)"

Taken = int | Pong | Close | Refusal | None
"""What :meth:`Engine.take` made of a frame: the ack owed after a data frame; a pong owed; the
close when the session is over; the refusal of bad input (the session is closed with its code)
or of a message the server has no room for (1013: only the connection ends); or nothing to do."""


FRAME_RATE_EXCEEDED = Refusal(
    429, CloseCode.RATE_LIMITED, "more frames per second than max_frame_rate"
)
SENDER_RATE_EXCEEDED = Refusal(
    503,
    CloseCode.TRY_AGAIN_LATER,
    "this client address sends more messages per second than max_client_rate",
)
"""Not one session's fault: the message is not taken, the connection ends with 1013, and the
client resends after a backoff."""


def _buckets(rate: float | None, burst: int) -> Buckets | None:
    return None if rate is None else Buckets(rate, burst)


_PROCESS = secrets.token_hex(4)
_numbers = itertools.count()
"""Connection ids: this process's random prefix, then a counter (no system call per poll)."""


class Channel:
    """One transport connection attached to a session: the backend's ``Listener``.

    ``event`` is set whenever the connection's writer has something to do: new messages, the
    session's end, an ack or pong owed, or :meth:`disconnect`. A streaming connection's
    ``pump``, while parked, writes the news at once instead (:meth:`wake`).
    """

    __slots__ = ("ended", "event", "hello", "id", "poller", "pump", "session_id", "transport")

    def __init__(self, session_id: SessionId, transport: TransportName) -> None:
        self.id = f"{_PROCESS}{next(_numbers):x}"
        self.session_id = session_id
        self.transport: TransportName = transport
        self.event = Flag()
        self.ended: tuple[int, str] | None = None
        self.hello = Hello(0)
        """The first frame of the connection: where the client resumes sending."""
        self.pump: Pump | None = None
        self.poller: asyncio.Task[object] | None = None
        """The task of a long-poll waiting for news: news cancels its wait (once)."""

    def wake(self) -> None:
        pump = self.pump
        if pump is not None and pump.parked:
            pump.write_now()
        else:
            self._news()

    @property
    def busy(self) -> bool:
        """Whether the connection's own task has news to act on (a publisher lets it run)."""
        return self.event.is_set()

    def disconnect(self, code: int, reason: str) -> None:
        if self.ended is None:
            self.ended = (code, reason)
        self.wake()  # a parked pump has no task to tell: it runs a turn, which hands over

    def _news(self) -> None:
        self.event.set()
        poller, self.poller = self.poller, None
        if poller is not None:
            poller.cancel()


def refusal_for(error: Exception | Violation) -> Refusal:
    """The one map from what can go wrong with a client's input to its close code (and the
    HTTP status an upstream POST answers with)."""
    if isinstance(error, Violation):
        code, reason = error.code, error.reason
    elif isinstance(error, InboxFull):
        code, reason = CloseCode.POLICY_VIOLATION, WINDOW_EXCEEDED
    elif isinstance(error, RateLimited):
        return Refusal(429, CloseCode.RATE_LIMITED, str(error))
    elif isinstance(error, ProtocolError):
        code, reason = error.code, str(error)
    else:
        raise TypeError(f"no close code for {error!r}")
    return Refusal(413 if code == CloseCode.MESSAGE_TOO_BIG else 400, code, reason)


async def _never_alive() -> bool:
    return False


class Engine:
    """Opens connections, takes the client's frames, writes the session's. See the module."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        supervisor: Supervisor,
        observer: Observer,
        origins: OriginPolicy,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.supervisor = supervisor
        self.observer = observer
        self.origins = origins
        self.clock = clock
        self.draining = False
        """Whether this process refuses new connections (it is shutting down)."""
        self._channels: set[Channel] = set()
        self._frames = _buckets(settings.frame_rate, 2 * settings.burst)
        """Every frame a session's client sends costs a token here (this process's count)."""
        self._senders = _buckets(settings.client_rate, 4 * settings.burst)
        """Every new message a client address sends costs a token here, across its sessions."""
        self._inline_writes = isinstance(backend, MemoryBackend)
        """Whether a stream's news may be written by the task that makes it: the memory
        backend answers ``pending`` without waiting (see :mod:`realtime.server.pump`)."""

    # -- Opening --------------------------------------------------------------------------

    async def find(self, conn: HTTPConnection, query: QueryParams) -> SessionInfo | Refusal:
        """The session a transport request names, once its Origin and token are checked."""
        refused = self.origins.refusal(conn)
        if refused is not None:
            return origin_refused(refused)
        if self.draining:
            return DRAINING
        session_id = query.get("sid")
        if not session_id:
            return Refusal(400, CloseCode.PROTOCOL_ERROR, "missing 'sid' query parameter")
        try:
            info = await self.backend.info(SessionId(session_id))
        except BackendError:
            return BACKEND_UNAVAILABLE
        if info is None:
            return UNKNOWN_SESSION
        try:
            wrong = await credentials.check(conn, query, info.id, self.backend, self.clock())
        except BackendError:
            return BACKEND_UNAVAILABLE
        return info if wrong is None else wrong

    @staticmethod
    def resume_point(value: str | None) -> int | Refusal:
        """The ``last`` message a client says it received (a query parameter or header)."""
        try:
            return decode_last(value)
        except ProtocolError as exc:
            return Refusal(400, exc.code, str(exc))

    async def open(
        self,
        info: SessionInfo,
        transport: TransportName,
        last: int,
        request: HTTPConnection,
        *,
        announce: bool = True,
    ) -> Channel | Close:
        """Attach a new connection that holds every message up to ``last``, or answer why not.

        ``announce`` is False for the long-polls that only carry a connection on. Each other
        connection's hello hands out the token of the client's next connections (rotation,
        :mod:`realtime.server.credentials`). The channel is tracked (for :meth:`drain`) until
        :meth:`release`; raises ``BackendError``.
        """
        session_id = info.id
        token = await credentials.rotate(self.backend, session_id) if announce else None
        channel = Channel(session_id, transport)
        self._channels.add(channel)
        try:
            attached = await self.backend.attach(session_id, channel, transport, last, self.clock())
        except (ReplayGap, ProtocolError, UnknownSession) as exc:
            self._channels.discard(channel)
            return await self._refuse_resume(session_id, exc)
        except BaseException:
            self._channels.discard(channel)
            raise
        channel.hello = Hello(attached.ack, token)
        await self.supervisor.ensure(session_id, transport)
        if announce:
            self.observer.connected(
                session_id,
                transport,
                first=attached.first,
                client=request.client.host if request.client else None,
                fallback=query_of(request).get("fb"),
                user=info.user,
            )
        return channel

    async def release(self, channel: Channel) -> None:
        """The connection ended: detach it. With the backend away, its session expires."""
        self._channels.discard(channel)
        try:
            await self.backend.detach(channel.session_id, channel, self.clock())
        except BackendError:
            pass

    async def _refuse_resume(self, session_id: SessionId, exc: Exception) -> Close:
        if isinstance(exc, UnknownSession):
            return Close(CloseCode.SESSION_EXPIRED, str(exc))
        code = CloseCode.REPLAY_GAP if isinstance(exc, ReplayGap) else CloseCode.PROTOCOL_ERROR
        await self.backend.close(session_id, code, str(exc))
        return Close(code, str(exc))

    def protocol(self, channel: Channel, last: int) -> ConnectionProtocol:
        """The checks and timers of a streaming connection, the same for every transport;
        ``last`` is where the client resumed (what it has acknowledged)."""
        settings = self.settings
        return ConnectionProtocol(
            is_server=True,
            now=asyncio.get_running_loop().time(),
            max_message_size=settings.max_message_size,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            ack_batch=settings.ack_batch,
            received=channel.hello.ack,
            acked=last,
        )

    def post_protocol(self) -> ConnectionProtocol:
        """The checks of the frames of one upstream POST (a POST carries no heartbeats)."""
        now = asyncio.get_running_loop().time()
        return ConnectionProtocol(
            is_server=True, now=now, max_message_size=self.settings.max_message_size
        )

    def channels(self) -> Iterator[Channel]:
        """This process's open connections."""
        return iter(list(self._channels))

    async def drain(self, code: int, timeout: float) -> None:
        """End every connection of this process with ``code`` and refuse new ones; wait up
        to ``timeout`` seconds for them to end."""
        self.draining = True
        for channel in self.channels():
            channel.disconnect(code, "server shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._channels and loop.time() < deadline:
            await asyncio.sleep(0.01)

    # -- Inbound --------------------------------------------------------------------------

    async def take(
        self,
        session_id: SessionId,
        proto: ConnectionProtocol,
        raw: str | bytes,
        now: float,
        sender: str | None = None,
    ) -> Taken:
        """Take one raw frame from the client at address ``sender`` (as
        :func:`~realtime.server.security.client_key` has it). Raises ``BackendError``; see
        :data:`Taken`.

        Every frame costs the session a token of ``max_frame_rate``. A duplicate data frame
        (a resend after a reconnection) and an ack that acknowledges nothing new are then
        dropped here, without a word to the backend: repeating them costs a client its
        bandwidth and its rate, not the server's backend. A new message costs its address a
        token of ``max_client_rate``."""
        if not self.spends(session_id, now):
            return await self.fail(session_id, FRAME_RATE_EXCEEDED)
        frame = proto.receive(raw, now)
        backend = self.backend
        try:
            if isinstance(frame, Data):
                if frame.seq <= proto.peer_sent:
                    return None
                senders = self._senders
                if senders is not None and not senders.take(sender, now):
                    return SENDER_RATE_EXCEEDED
                size = message_size(frame.data)
                watermark = await backend.deliver(
                    session_id, frame.seq, frame.data, size, self.clock()
                )
                proto.peer_sent = frame.seq
                return watermark
            if isinstance(frame, Ack):
                if frame.seq > proto.peer_acked:
                    await backend.ack(session_id, frame.seq)
                    proto.peer_acked = frame.seq
                return None
            if isinstance(frame, Ping):
                return Pong()
            if isinstance(frame, Close):
                await backend.close(session_id, frame.code, frame.reason)
                return frame
            if isinstance(frame, Violation):
                return await self.fail(session_id, refusal_for(frame))
            return None  # a pong: liveness only, which proto.receive noted
        except SessionClosed as exc:
            return Close(exc.code, exc.reason)
        except UnknownSession:
            return UNKNOWN_SESSION  # it expired while the request came in
        except OverBudget as exc:
            # Not the client's fault alone: its message is not taken, this connection ends
            # with 1013, and the client resends after a backoff. The session lives on.
            return Refusal(503, CloseCode.TRY_AGAIN_LATER, str(exc))
        except (ProtocolError, InboxFull, RateLimited) as exc:
            return await self.fail(session_id, refusal_for(exc))

    def spends(self, session_id: SessionId, now: float) -> bool:
        """Take a token of ``max_frame_rate`` from the session for a frame, or for another
        request of its client (a ticket); False past the rate (then the session must end,
        with :data:`FRAME_RATE_EXCEEDED`). No wait: this is on every frame's path."""
        frames = self._frames
        return frames is None or frames.take(session_id, now)

    async def hung_up(self, session_id: SessionId, code: int | None, reason: str) -> None:
        """The WebSocket closed without a close frame, with ``code``.

        1000 (normal closure, from the client) ends the session, as ``c1000`` would. 1002,
        1007 and 1009 are the server's WebSocket layer refusing what the client sent (a
        broken frame, a text frame that is not UTF-8, a frame over its size limit) before
        the session saw it: they end the session with that code, as the frame would have.
        Any other code (1001 when a page goes away, none at all) ends only the connection,
        and the session waits to be resumed."""
        if code == CloseCode.NORMAL_CLOSURE:
            reason = truncate_reason(reason) or "the client closed its WebSocket"
        elif code in REFUSED_BY_THE_WEBSOCKET_LAYER:
            reason = truncate_reason(reason) or CLOSE_CODE_EXPLANATIONS[code]
        else:
            return
        await self.backend.close(session_id, code, reason)

    async def fail(self, session_id: SessionId, refusal: Refusal) -> Refusal:
        """Bad input ends the session with the refusal's code."""
        await self.backend.close(session_id, refusal.code, refusal.reason)
        return refusal

    async def touch(self, session_id: SessionId) -> None:
        """The client showed it is alive, by a request that carries no connection (a POST):
        the handler starts if it has not, so that nothing waits for a handler that is not
        running."""
        await self.backend.touch(session_id, self.clock())
        await self.supervisor.ensure(session_id, None)

    # -- Outbound -------------------------------------------------------------------------

    async def heard_from(self, session_id: SessionId, proto: ConnectionProtocol) -> bool:
        """Whether the client showed signs of life elsewhere (by POST, maybe to another
        process) recently enough that this connection is not dead."""
        snapshot = await self.backend.snapshot(session_id)
        if snapshot is None:
            return False
        now = asyncio.get_running_loop().time()
        silent_for = max(0.0, self.clock() - snapshot.last_seen)
        proto.last_received = max(proto.last_received, now - silent_for)
        return not proto.is_dead(now)

    async def poll(
        self, channel: Channel, last: int, opening: bool, wait: Callable[[], Awaitable[None]]
    ) -> list[str]:
        """The frames that answer one long-poll, in text form.

        The first poll of a connection (``opening``) answers at once, starting with the hello;
        later ones ``wait()`` for news when nothing is queued, then answer the ack owed, the
        messages, and the close once every message is out.
        """
        backend, settings = self.backend, self.settings
        session_id = channel.session_id
        frames = [encode_frame(channel.hello)] if opening else []
        try:
            pending = await backend.pending(session_id, last, settings.max_batch, WRITE_BATCH_BYTES)
            if not opening and not pending.messages and pending.close is None:
                await wait()
                if channel.ended is not None:
                    return [encode_frame(Reconnect(*channel.ended))]
                pending = await backend.pending(
                    session_id, last, settings.max_batch, WRITE_BATCH_BYTES
                )
        except UnknownSession as exc:  # it expired while the poll waited
            return [encode_frame(Close(CloseCode.SESSION_EXPIRED, str(exc)))]
        if pending.ack and not opening:
            frames.append(encode_ack(pending.ack))
        frames.extend(encode_data(seq, data) for seq, data in pending.messages)
        if pending.close is not None:
            frames.append(encode_frame(Close(*pending.close)))
        return frames

    async def pump(
        self,
        channel: Channel,
        proto: ConnectionProtocol,
        cursor: int,
        writer: StreamWriter,
        still_alive: Callable[[], Awaitable[bool]] = _never_alive,
    ) -> None:
        """Write the session's frames to one streaming connection until it ends (see
        :mod:`realtime.server.pump`), from ``cursor`` on. ``still_alive`` is asked when
        ``proto`` finds the peer silent."""
        pump = self._pump_for(channel, proto, cursor, writer, still_alive)
        channel.pump = pump
        try:
            await pump.run()
        finally:
            channel.pump = None

    def start_pump(
        self,
        channel: Channel,
        proto: ConnectionProtocol,
        cursor: int,
        writer: StreamWriter,
        reader: asyncio.Task[Any] | None = None,
    ) -> Pump:
        """:meth:`pump` without a task of its own while parked (:meth:`Pump.start`): its
        ``finished`` is done when the connection ended, and ``stop()`` ends it; its end
        cancels ``reader`` if that still reads."""
        pump = self._pump_for(channel, proto, cursor, writer, _never_alive)
        channel.pump = pump

        def ended(_: object) -> None:
            if channel.pump is pump:
                channel.pump = None

        pump.start(reader).add_done_callback(ended)
        return pump

    def _pump_for(
        self,
        channel: Channel,
        proto: ConnectionProtocol,
        cursor: int,
        writer: StreamWriter,
        still_alive: Callable[[], Awaitable[bool]],
    ) -> Pump:
        return Pump(
            channel,
            proto,
            cursor,
            writer,
            self.backend,
            max_batch=self.settings.max_batch,
            send_timeout=self.settings.send_timeout,
            still_alive=still_alive,
            inline=self._inline_writes,
        )
