"""What every transport shares: the attached connection, session lookup and refusals.

A transport is a thin adapter: it finds the session a request names (checking Origin and
token), attaches a :class:`Connection` to it, and moves frames between the backend and the
wire until the connection ends. The session outlives it.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import Receive

from realtime._signal import Flag
from realtime.backends.base import SessionInfo
from realtime.exceptions import BackendError, UnknownSession
from realtime.protocol.buffer import ReplayGap
from realtime.protocol.frames import MAX_SEQ, Close, CloseCode, Reconnect, reconnect_policy
from realtime.security import token_matches
from realtime.types import SessionId, TransportName

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = [
    "Connection",
    "Refusal",
    "find_session",
    "parse_last",
    "query_of",
    "refuse_resume",
    "watch_disconnect",
]

TOKEN_HEADER = "x-realtime-token"


class Connection:
    """A transport connection attached to a session (a backend :class:`Listener`).

    ``event`` is set whenever the connection's writer has something to do: new messages, the
    session's end, an ack or pong owed, or ``disconnect``.
    """

    __slots__ = ("ended", "event", "id", "transport")

    def __init__(self, transport: TransportName) -> None:
        self.id = secrets.token_hex(8)
        self.transport: TransportName = transport
        self.event = Flag()
        self.ended: tuple[int, str] | None = None

    def wake(self) -> None:
        self.event.set()

    def disconnect(self, code: int, reason: str) -> None:
        if self.ended is None:
            self.ended = (code, reason)
        self.event.set()


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused before it reached its session: an HTTP status and a close code."""

    status: int
    code: int
    reason: str

    def frame(self) -> Close | Reconnect:
        """The frame that ends a connection refused this way: a reconnect when the client
        should come back to the same session, a close otherwise."""
        if reconnect_policy(self.code) == "resume":
            return Reconnect(self.code, self.reason)
        return Close(self.code, self.reason)

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.reason, "code": self.code},
            status_code=self.status,
            headers={"cache-control": "no-store"},
        )


WINDOW_EXCEEDED = (CloseCode.POLICY_VIOLATION, "more unacknowledged messages than max_queue allows")

ORIGIN_REFUSED = Refusal(403, CloseCode.POLICY_VIOLATION, "origin not allowed")
UNKNOWN_SESSION = Refusal(404, CloseCode.SESSION_EXPIRED, "unknown or expired session")
WRONG_TOKEN = Refusal(403, CloseCode.FORBIDDEN, "wrong or missing token for this session")


DRAINING = Refusal(503, CloseCode.SERVICE_RESTART, "server shutting down: reconnect")
BACKEND_UNAVAILABLE = Refusal(503, CloseCode.BACKEND_UNAVAILABLE, "backend unavailable: retry")


def query_of(conn: HTTPConnection) -> QueryParams:
    """The request's query, parsed here rather than cached on ``conn``: a WebSocket, an event
    stream or a pending poll keeps its connection object for its whole life."""
    return QueryParams(conn.scope["query_string"])


async def find_session(
    app: RealtimeApp, conn: HTTPConnection, query: QueryParams
) -> SessionInfo | Refusal:
    """The session a transport request names, once its Origin and token are checked."""
    if not app.origins.allows(conn):
        return ORIGIN_REFUSED
    if app.draining:
        return DRAINING
    session_id = query.get("sid")
    if not session_id:
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "missing 'sid' query parameter")
    try:
        info = await app.backend.info(SessionId(session_id))
    except BackendError:
        return BACKEND_UNAVAILABLE
    if info is None:
        return UNKNOWN_SESSION
    token = conn.headers.get(TOKEN_HEADER) or query.get("token")
    if not token_matches(token, info.token_hash):
        return WRONG_TOKEN
    return info


def parse_last(value: str | None) -> int | Refusal:
    """Parse the ``last`` a client resumes after (the last message it received)."""
    if value is None or value == "":
        return 0
    if len(value) > 16 or not (value.isascii() and value.isdigit()) or int(value) > MAX_SEQ:
        return Refusal(400, CloseCode.PROTOCOL_ERROR, f"bad 'last' value {value[:20]!r}")
    return int(value)


async def refuse_resume(app: RealtimeApp, session_id: SessionId, exc: Exception) -> Close:
    """The close answering a resume that cannot be served; ends the session where needed.

    ``exc`` is what ``attach`` raised: ``UnknownSession``, ``ReplayGap`` or ``ProtocolError``.
    """
    if isinstance(exc, UnknownSession):
        return Close(CloseCode.SESSION_EXPIRED, "unknown or expired session")
    code = CloseCode.REPLAY_GAP if isinstance(exc, ReplayGap) else CloseCode.PROTOCOL_ERROR
    await app.backend.close(session_id, code, str(exc))
    return Close(code, str(exc))


async def detach_quietly(app: RealtimeApp, session_id: SessionId, conn: Connection) -> None:
    """Detach a connection that ended; with the backend away, its session expires instead."""
    try:
        await app.backend.detach(session_id, conn, app.clock())
    except BackendError:
        pass


async def read_body(request: Request, limit: int, timeout: float | None) -> bytes | Refusal:
    """Read a request body of at most ``limit`` bytes within ``timeout`` seconds.

    The declared length is checked first and the stream as it comes, so a body over the limit
    is refused (413) before it is read in full; a client too slow to send it gets 408.
    """
    too_large = Refusal(413, CloseCode.MESSAGE_TOO_BIG, f"body larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return too_large
                chunks.append(chunk)
    except TimeoutError:
        return Refusal(408, CloseCode.POLICY_VIOLATION, f"body not received in {timeout} s")
    except ClientDisconnect:
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "client disconnected mid-body")
    return b"".join(chunks)


async def watch_disconnect(receive: Receive) -> None:
    """Return when the HTTP client goes away (consumes the request body, if any)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
