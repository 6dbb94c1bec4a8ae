"""``POST <mount>/negotiate``: who may open a session, and on what terms; and
``POST <mount>/ticket``: a new single-use ticket for a session's event stream.

The Origin check, the application's authentication hook and the session caps run here; the
answer gives the session id, its secret token, the transports in order of preference, and
heartbeat and limit settings (:mod:`realtime.protocol.negotiate` spells both bodies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from realtime.backends.base import SessionInfo
from realtime.exceptions import BackendError, ProtocolError
from realtime.presence import check_user, user_id_of, user_room
from realtime.protocol.codes import CloseCode
from realtime.protocol.negotiate import Negotiated, decode_request
from realtime.server.credentials import TICKET_LIFETIME, issue_ticket
from realtime.server.engine import FRAME_RATE_EXCEEDED, Engine
from realtime.server.http import is_json, read_body
from realtime.server.refusals import (
    BACKEND_UNAVAILABLE,
    CLIENT_FULL,
    DRAINING,
    SERVER_FULL,
    UNKNOWN_SESSION,
    Refusal,
    origin_refused,
)
from realtime.server.security import client_key, hash_token, new_session_id, new_token
from realtime.types import SessionId

__all__ = ["Authenticate", "NegotiateEndpoint", "TicketEndpoint"]

logger = logging.getLogger("realtime")

Authenticate = Callable[[HTTPConnection], Awaitable[object]]

MAX_NEGOTIATE_BODY = 4096
NOT_JSON = Refusal(
    415,
    CloseCode.PROTOCOL_ERROR,
    "negotiate with Content-Type: application/json (the body may be empty)",
)


class TicketEndpoint:
    """ASGI endpoint of ``POST <mount>/ticket?sid=...``, with the token in its header."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        engine = self.engine
        response: Response
        try:
            found = await engine.find(request, request.query_params)
            if isinstance(found, Refusal):
                response = found.response()
            elif not is_json(request):
                response = NOT_JSON.response()
            elif not engine.spends(found.id, asyncio.get_running_loop().time()):
                response = (await engine.fail(found.id, FRAME_RATE_EXCEEDED)).response()
            else:
                ticket = await issue_ticket(engine.backend, found.id, engine.clock())
                body = {"ticket": ticket, "expires_in_ms": round(TICKET_LIFETIME * 1000)}
                response = JSONResponse(body, headers={"cache-control": "no-store"})
                if ticket is None:  # the session ended meanwhile
                    response = UNKNOWN_SESSION.response()
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        await response(scope, receive, send)


class NegotiateEndpoint:
    """ASGI endpoint of ``POST <mount>/negotiate``."""

    def __init__(self, engine: Engine, authenticate: Authenticate | None) -> None:
        self.engine = engine
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            answer = await self._handle(Request(scope, receive))
        except BackendError:
            answer = BACKEND_UNAVAILABLE
        observer = self.engine.observer
        response: Response
        if isinstance(answer, Refusal):
            observer.negotiated(None, status=answer.status, error=answer.reason, started=started)
            response = answer.response()
        else:
            info, negotiated = answer
            observer.negotiated(
                info.id, transports=negotiated.transports, user=info.user, started=started
            )
            response = JSONResponse(negotiated.to_json(), headers={"cache-control": "no-store"})
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Refusal | tuple[SessionInfo, Negotiated]:
        engine = self.engine
        settings = engine.settings
        refused = engine.origins.refusal(request)
        if refused is not None:
            return origin_refused(refused)
        if engine.draining:
            return DRAINING
        if not is_json(request):
            return NOT_JSON
        body = await read_body(request, MAX_NEGOTIATE_BODY, settings.read_timeout)
        if isinstance(body, Refusal):
            return body
        try:
            wanted = decode_request(body)
        except ProtocolError as exc:
            return Refusal(400, exc.code, str(exc))
        transports = tuple(t for t in settings.transports if wanted is None or t in wanted)
        if not transports:
            return Refusal(400, CloseCode.PROTOCOL_ERROR, "no transport in common")
        user = await self._authenticate(request)
        if isinstance(user, Refusal):
            return user
        client = request.client
        address = client_key(client.host if client else None)
        kept = self._kept(request)
        if isinstance(kept, Refusal):
            return kept
        headers, query_string = kept
        token = new_token()
        now = engine.clock()
        info = SessionInfo(
            id=SessionId(new_session_id()),
            token_hash=hash_token(token),
            created=now,
            headers=headers,
            query_string=query_string,
            user=user,
            client=address,
            max_queue=settings.max_queue,
            max_buffer_bytes=settings.max_buffer_bytes,
            max_client_bytes=settings.max_client_bytes,
            max_total_bytes=settings.max_total_bytes,
            max_rate=settings.max_rate,
            max_burst=settings.burst,
        )
        admitted = await engine.backend.create(
            info, now, settings.max_sessions, settings.max_sessions_per_client
        )
        if admitted != "created":
            return SERVER_FULL if admitted == "server full" else CLIENT_FULL
        user_id = user_id_of(user)
        if user_id is not None:  # reachable as a user from anywhere (realtime.presence)
            await engine.backend.join(info.id, user_room(user_id))
        logger.debug("negotiated session %s", info.id)
        ticket = await issue_ticket(engine.backend, info.id, now) if "sse" in transports else None
        negotiated = Negotiated(
            session_id=info.id,
            token=token,
            transports=transports,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            poll_timeout=settings.poll_timeout,
            session_ttl=settings.session_ttl,
            max_message_size=settings.max_message_size,
            max_queue=settings.max_queue,
            max_buffer_bytes=settings.max_buffer_bytes,
            max_batch=settings.max_batch,
            max_rate=settings.max_rate,
            max_burst=settings.burst if settings.max_rate is not None else None,
            ticket=ticket,
        )
        return info, negotiated

    def _kept(self, request: Request) -> tuple[tuple[tuple[str, str], ...], str] | Refusal:
        """What the session keeps of its negotiation request: the headers ``keep_headers``
        names (never credentials) and the query string, at most ``max_stored_bytes`` in all."""
        settings = self.engine.settings
        keep = settings.keep_headers
        decoded = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
        headers = tuple((name, value) for name, value in decoded if name.lower() in keep)
        query = request.url.query
        size = len(query) + sum(len(name) + len(value) for name, value in headers)
        if size > settings.max_stored_bytes:
            reason = (
                f"the request data a session keeps (query and kept headers) is {size} bytes, "
                f"over max_stored_bytes={settings.max_stored_bytes}"
            )
            return Refusal(431, CloseCode.MESSAGE_TOO_BIG, reason)
        return headers, query

    async def _authenticate(self, request: Request) -> object:
        if self.authenticate is None:
            return None
        try:
            user = await self.authenticate(request)
        except HTTPException as exc:
            code = CloseCode.UNAUTHORIZED
            return Refusal(exc.status_code, code, exc.detail or "authentication refused")
        if user is None:
            return Refusal(401, CloseCode.UNAUTHORIZED, "authentication required")
        unstorable = check_user(user)
        if unstorable is not None:  # refused the same on every backend, memory included
            logger.error("negotiation failed: %s", unstorable)
            return Refusal(500, CloseCode.INTERNAL_ERROR, unstorable)
        return user
