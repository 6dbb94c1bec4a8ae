"""How a request proves it belongs to a session, without the token in a URL.

A session's token travels in a header wherever the platform lets a client set one: the
``X-Realtime-Token`` header on every POST and long-poll, and on a WebSocket handshake from a
client that sets headers. A browser's WebSocket cannot set headers: it offers the token as a
subprotocol, ``realtime-token.<token>``, beside ``realtime``, which the server selects. A
browser's EventSource can set nothing: its URL carries a *ticket*, a credential good for one
request and for :data:`TICKET_LIFETIME` seconds, which the negotiation answer and
``POST <mount>/ticket`` hand out. So an access log, a proxy's log or a browser's history sees
at worst a ticket that was used up when it was logged.

A URL with the token itself is refused (4003), so a client that still puts it there learns at
once instead of leaking it.

The token also changes: the hello of every new connection hands out the token of the client's
next ones. The first request that presents it makes it the session's token; the one before
stays good for :data:`~realtime.backends.base.TOKEN_GRACE` seconds, for requests in flight, and
then no more. A token read from a client's memory, a debugging proxy or a crash report is good
until that client's next connection and a minute more.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection

from realtime.backends.base import Backend
from realtime.protocol.codes import CloseCode
from realtime.server.http import TOKEN_HEADER
from realtime.server.refusals import WRONG_TOKEN, Refusal
from realtime.server.security import hash_token, new_token
from realtime.types import SessionId

__all__ = [
    "SUBPROTOCOL",
    "TICKET_LIFETIME",
    "TOKEN_IN_URL",
    "TOKEN_SUBPROTOCOL",
    "check",
    "issue_ticket",
    "offers_subprotocol",
    "rotate",
]

SUBPROTOCOL = "realtime"
"""The WebSocket subprotocol the server selects when a client offers it."""

TOKEN_SUBPROTOCOL = "realtime-token."
"""The prefix of the subprotocol that carries the token from a browser's WebSocket."""

TICKET_LIFETIME = 60.0
"""Seconds a ticket stays good if nobody uses it."""

TOKEN_IN_URL = Refusal(
    403,
    CloseCode.FORBIDDEN,
    "no token in URLs: send it in the X-Realtime-Token header, or a ticket (PROTOCOL.md 5)",
)


def _offered(conn: HTTPConnection) -> list[str]:
    header = conn.headers.get("sec-websocket-protocol", "")
    return [name.strip() for name in header.split(",") if name.strip()]


def offers_subprotocol(conn: HTTPConnection) -> bool:
    """Whether a WebSocket handshake offers :data:`SUBPROTOCOL` (then it must be selected)."""
    return conn.scope["type"] == "websocket" and SUBPROTOCOL in _offered(conn)


def _token(conn: HTTPConnection) -> str | None:
    token = conn.headers.get(TOKEN_HEADER)
    if token or conn.scope["type"] != "websocket":
        return token
    for name in _offered(conn):
        if name.startswith(TOKEN_SUBPROTOCOL):
            return name[len(TOKEN_SUBPROTOCOL) :]
    return None


async def check(
    conn: HTTPConnection,
    query: QueryParams,
    session_id: SessionId,
    backend: Backend,
    now: float,
) -> Refusal | None:
    """None when the request holds the session's token (header or subprotocol) or one of its
    tickets (which it uses up); else the refusal. Raises ``BackendError``."""
    if "token" in query:
        return TOKEN_IN_URL
    token = _token(conn)
    if token is not None:
        good = await backend.check_token(session_id, hash_token(token), now)
        return None if good else WRONG_TOKEN
    ticket = query.get("ticket")
    if ticket and await backend.use_ticket(session_id, hash_token(ticket), now):
        return None
    return WRONG_TOKEN


async def rotate(backend: Backend, session_id: SessionId) -> str | None:
    """A new token for the session's next connections, or None if it is unknown. Raises
    ``BackendError``."""
    token = new_token()
    return token if await backend.rotate_token(session_id, hash_token(token)) else None


async def issue_ticket(backend: Backend, session_id: SessionId, now: float) -> str | None:
    """A new ticket for the session, or None if it is unknown. Raises ``BackendError``."""
    ticket = new_token()
    if await backend.add_ticket(session_id, hash_token(ticket), now, TICKET_LIFETIME):
        return ticket
    return None
