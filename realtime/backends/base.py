"""The backend interface: where every session's state and every room live.

A backend holds all of a session's state (identity, token hash, both sequence numbers, the
replay buffer, the handler's inbox, room memberships), so that whichever process receives a
request can serve it. :class:`~realtime.backends.memory.MemoryBackend` keeps it in a dict of
this process; a Redis backend keeps it in Redis and lets several processes share sessions.

The semantics of every method are those of :class:`~realtime.protocol.session.SessionState`;
one backend test suite holds every implementation to them.

Transports never wait on the backend: they *attach* a :class:`Listener` to a session and the
backend calls its :meth:`~Listener.wake` when there is something new to send (messages or the
close), and :meth:`~Listener.disconnect` when the connection must end (another connection
took over, the server is shutting down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from realtime.protocol.session import Attached
from realtime.types import SessionId, TransportName

__all__ = [
    "Admission",
    "Backend",
    "HandlerClaim",
    "Listener",
    "MAX_TICKETS",
    "MAX_WAITING_TOKENS",
    "TOKEN_GRACE",
    "Pending",
    "SessionInfo",
    "SessionSnapshot",
]

HandlerClaim = Literal["start", "restart"]

MAX_TICKETS = 8
"""Tickets a session keeps unused at most (:meth:`Backend.add_ticket`)."""

MAX_WAITING_TOKENS = 4
"""Tokens handed out and not used yet that a session keeps (:meth:`Backend.rotate_token`)."""

TOKEN_GRACE = 60.0
"""Seconds a token stays good once the client uses the one that replaced it."""

Admission = Literal["created", "server full", "client full"]
"""What :meth:`Backend.create` did: created the session, or refused it at a cap."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a session is, fixed at negotiation."""

    id: SessionId
    token_hash: str
    """SHA-256 of the session token, hex. The token itself is never stored."""
    created: float
    headers: tuple[tuple[str, str], ...] = ()
    """Headers of the negotiation request (lower-case names)."""
    query_string: str = ""
    """Query string of the negotiation request."""
    user: object = None
    """What the authentication hook returned (JSON-serialisable for shared backends)."""
    client: str | None = None
    """Who negotiated, as per-address caps count it: the IPv4 address, or the IPv6 /64
    (:func:`~realtime.server.security.client_key`)."""
    max_queue: int | None = 1024
    """Bound on unacknowledged outgoing messages, and on messages waiting for the handler."""
    max_buffer_bytes: int | None = None
    """Bound on the bytes of either queue; one message always fits."""
    max_client_bytes: int | None = None
    """Bound on the bytes held in the queues of all sessions of :attr:`client` (None: none)."""
    max_total_bytes: int | None = None
    """Bound on the bytes held in the queues of every session of the backend (None: none)."""
    max_rate: float | None = None
    """Messages per second the client may send, on average (None: no limit)."""
    max_burst: int = 1
    """Messages the client may send at once above ``max_rate``."""


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """The changing part of a session, read at one instant."""

    status: int
    """A :class:`~realtime.protocol.session.SessionStatus` value."""
    transport: TransportName | None
    last_seen: float
    close_code: int | None = None
    close_reason: str = ""


@dataclass(slots=True)  # not frozen: made once per write, and frozen ones build slowly
class Pending:
    """Outgoing messages to write, and the close once every message is out."""

    messages: list[tuple[int, str | bytes]] = field(default_factory=list)
    close: tuple[int, str] | None = None
    """Set when the session ended and ``messages`` reaches its last message."""
    ack: int = 0
    """Last client message the handler read: the ack the client is owed."""
    more: bool = False
    """Whether messages beyond ``messages`` wait already (the batch was cut by its bounds)."""


class Listener(Protocol):
    """A transport connection attached to a session."""

    @property
    def id(self) -> str: ...

    def wake(self) -> None:
        """There are new outgoing messages, or the session ended."""

    def disconnect(self, code: int, reason: str) -> None:
        """End this connection (the session lives on); the client should resume."""


class Backend(Protocol):
    """Storage of sessions and rooms. Every method may raise ``BackendError``."""

    async def start(self) -> None:
        """Open connections and start background work. Called once before any other call."""

    async def stop(self) -> None:
        """Release everything ``start`` acquired."""

    # -- Sessions -------------------------------------------------------------------------

    async def create(
        self,
        info: SessionInfo,
        now: float,
        max_sessions: int | None = None,
        max_per_client: int | None = None,
    ) -> Admission:
        """Store a new session, in the PENDING state, unless there are ``max_sessions``
        sessions already (as :meth:`count` counts them), or ``max_per_client`` negotiated
        from ``info.client``: the caps are checked and the session created in one atomic
        step, so that concurrent negotiations never go past them. None: no cap."""

    async def count(self, client: str | None = None) -> int:
        """How many sessions exist (closed ones not forgotten yet included), in all or
        negotiated from the address ``client``."""

    async def info(self, session_id: SessionId) -> SessionInfo | None:
        """The session's fixed part, or None if it is unknown or expired."""

    async def snapshot(self, session_id: SessionId) -> SessionSnapshot | None:
        """The session's changing part, or None if it is unknown or expired."""

    async def attach(
        self,
        session_id: SessionId,
        listener: Listener,
        transport: TransportName,
        last: int,
        now: float,
    ) -> Attached:
        """Attach a connection that holds every message up to ``last``.

        The previous connection, if any, gets ``disconnect(TRANSPORT_REPLACED)``.

        Raises:
            UnknownSession: no such session.
            ReplayGap: messages after ``last`` are gone.
            ProtocolError: ``last`` is beyond the last message sent.
        """

    async def detach(self, session_id: SessionId, listener: Listener, now: float) -> None:
        """Detach ``listener`` if it is still attached; the session starts waiting."""

    async def touch(self, session_id: SessionId, now: float) -> None:
        """The client showed it is alive."""

    async def claim_handler(self, session_id: SessionId) -> HandlerClaim | None:
        """Claim the session's handler for the calling process.

        Returns ``"start"`` the first time, ``"restart"`` when the handler's last run was
        released unfinished (its process shut down, or died), and None when the handler runs
        already, finished, or the session ended: then the caller does nothing.
        """

    async def release_handler(self, session_id: SessionId, finished: bool) -> None:
        """The session's handler stopped here: it ``finished`` (returned or raised; a closed
        session may then be forgotten), or was cancelled and may be restarted elsewhere."""

    def watch_transports(self, callback: Callable[[SessionId, TransportName], None]) -> None:
        """Call ``callback`` in this process whenever a connection of a session whose handler
        runs here attaches, in this process or another (``session.transport`` follows it)."""

    async def orphans(self) -> list[SessionId]:
        """Sessions whose handler was lost with its process, to be restarted by the caller
        (``claim_handler`` answers ``"restart"`` for them). Always empty for a backend that
        lives in one process."""

    async def close(self, session_id: SessionId, code: int, reason: str) -> bool:
        """End the session; False if it had ended already. Wakes its listener and readers."""

    async def expire(self, now: float, ttl: float) -> list[SessionId]:
        """Close (SESSION_EXPIRED) and forget sessions that waited for a connection ``ttl``
        seconds; forget closed sessions ``ttl`` seconds after their close (until then a client
        that missed the close still learns it), once their handler returned and no connection
        is attached. Return the sessions that expired."""

    # -- Server to client -----------------------------------------------------------------

    async def push(
        self, session_id: SessionId, data: str | bytes, size: int, timeout: float | None
    ) -> None:
        """Queue a message for the client; wait up to ``timeout`` for room. It is numbered
        in the session's sequence where the process holding its connection reads it (a shared
        backend numbers a session's messages there), so no number is returned.

        Called by the process that claimed the session's handler (it is told of acks).

        Raises:
            SessionClosed: the session ended.
            BufferFull: no room within ``timeout`` (None waits without limit, 0 does not wait).
        """

    async def pending(
        self, session_id: SessionId, after: int, max_count: int | None, max_bytes: int | None
    ) -> Pending:
        """Messages after ``after`` to write now, without waiting.

        Raises:
            UnknownSession, ReplayGap, ProtocolError: as for :meth:`attach`.
        """

    async def ack(self, session_id: SessionId, seq: int) -> None:
        """The client holds every message up to ``seq``. Raises ``ProtocolError``."""

    # -- Client to server -----------------------------------------------------------------

    async def deliver(
        self, session_id: SessionId, seq: int, data: str | bytes, size: int, now: float
    ) -> int:
        """Take message ``seq`` from the client into the handler's inbox (a duplicate is
        ignored); return the last message the handler read (the ack owed). Never waits.

        Raises:
            InboxFull: the client sent past its window; the message was not taken.
            RateLimited: the client sent faster than the session's rate limit.
            ProtocolError: ``seq`` skips messages.
            SessionClosed: the session ended.
        """

    async def receive(self, session_id: SessionId) -> str | bytes:
        """Wait for and return the next message for the handler; wakes the listener, which
        owes the client an ack. Called by the process that claimed the handler.

        Raises:
            SessionClosed: the session ended.
        """

    # -- Rooms ----------------------------------------------------------------------------

    async def join(self, session_id: SessionId, room: str) -> None: ...

    async def leave(self, session_id: SessionId, room: str) -> None: ...

    async def rooms(self, session_id: SessionId) -> set[str]: ...

    async def members(self, room: str) -> set[SessionId]: ...

    async def publish(
        self, room: str, data: str | bytes, size: int, exclude: SessionId | None = None
    ) -> int:
        """Queue a message for every member of ``room`` without waiting; a member without room
        is closed with BUFFER_OVERFLOW. Return how many sessions it was queued for.

        A shared backend may number a member's messages later than the publish (when they
        are read): a member with a connection found without room then is closed then, and
        was counted."""

    async def offer(self, session_id: SessionId, data: str | bytes, size: int) -> bool:
        """Queue a message for one session without waiting, as :meth:`publish` does for a room.
        Return False if the session is unknown, closed, or was closed for lack of room."""

    async def presence(self, room: str) -> dict[SessionId, object]:
        """The sessions in ``room``, each with its user (``SessionInfo.user``)."""

    # -- Credentials ----------------------------------------------------------------------

    async def rotate_token(self, session_id: SessionId, token_hash: str) -> bool:
        """Hand out a new token (its SHA-256, hex) for the client's next connections; the
        newest :data:`MAX_WAITING_TOKENS` wait to be used. False if the session is unknown."""

    async def check_token(self, session_id: SessionId, token_hash: str, now: float) -> bool:
        """Whether ``token_hash`` is the session's token. That is the one it was created
        with, until the client uses one that :meth:`rotate_token` handed out: that one is
        the token from then on, and the one before it stays good for :data:`TOKEN_GRACE`
        seconds (requests in flight); the others handed out are dropped."""

    async def add_ticket(
        self, session_id: SessionId, ticket_hash: str, now: float, lifetime: float
    ) -> bool:
        """Keep a single-use ticket (its SHA-256, hex) for the session until ``now +
        lifetime``; past :data:`MAX_TICKETS` the oldest goes. False if the session is
        unknown."""

    async def use_ticket(self, session_id: SessionId, ticket_hash: str, now: float) -> bool:
        """Whether ``ticket_hash`` is a ticket of the session, alive at ``now``; once asked
        about, it is used up."""

    # -- Handler state --------------------------------------------------------------------

    async def save_state(self, session_id: SessionId, state: str) -> bool:
        """Store the handler's state (JSON text, bounded by the caller) with the session; it
        is forgotten with the session. False if the session is unknown."""

    async def load_state(self, session_id: SessionId) -> str | None:
        """The handler's state last saved, or None."""
