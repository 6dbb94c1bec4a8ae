"""``POST <mount>/negotiate``: open a session.

The request body is optional; when present it is JSON: ``{"v": 1, "transports": [...]}``
(the protocol version the client speaks and the transports it can use). The answer gives the
session id, its secret token, the transports in order of preference, heartbeat and limit
settings. The Origin check and the application's authentication hook run here.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from realtime.backends.base import SessionInfo
from realtime.exceptions import BackendError
from realtime.protocol.frames import PROTOCOL_VERSION, CloseCode
from realtime.protocol.negotiate import Negotiated
from realtime.security import hash_token, new_session_id, new_token
from realtime.transports.base import (
    BACKEND_UNAVAILABLE,
    DRAINING,
    ORIGIN_REFUSED,
    Refusal,
    read_body,
)
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["NegotiateEndpoint"]

logger = logging.getLogger("realtime")

MAX_NEGOTIATE_BODY = 4096


class NegotiateEndpoint:
    def __init__(self, app: RealtimeApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._handle(Request(scope, receive))
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        app = self.app
        if not app.origins.allows(request):
            return ORIGIN_REFUSED.response()
        if app.draining:
            return DRAINING.response()
        wanted = await _read_request(request, app.read_timeout)
        if isinstance(wanted, Refusal):
            return wanted.response()
        transports = tuple(t for t in app.transports if wanted is None or t in wanted)
        if not transports:
            return Refusal(400, CloseCode.PROTOCOL_ERROR, "no transport in common").response()
        user = await _authenticate(app, request)
        if isinstance(user, Refusal):
            return user.response()
        client = request.client
        address = client.host if client else None
        refusal = await _over_limits(app, address)
        if refusal is not None:
            return refusal.response()
        token = new_token()
        info = SessionInfo(
            id=SessionId(new_session_id()),
            token_hash=hash_token(token),
            created=app.clock(),
            headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
            ),
            query_string=request.url.query,
            user=user,
            client=address,
            max_queue=app.max_queue,
            max_buffer_bytes=app.max_buffer_bytes,
            max_rate=app.max_rate,
            max_burst=app.max_burst,
        )
        await app.backend.create(info, app.clock())
        logger.debug("negotiated session %s", info.id)
        answer = Negotiated(
            session_id=info.id,
            token=token,
            transports=transports,
            ping_interval=app.ping_interval,
            ping_timeout=app.ping_timeout,
            poll_timeout=app.poll_timeout,
            session_ttl=app.session_ttl,
            max_message_size=app.max_message_size,
            max_queue=app.max_queue,
            max_buffer_bytes=app.max_buffer_bytes,
            max_batch=app.max_batch,
        )
        return JSONResponse(answer.to_json(), headers={"cache-control": "no-store"})


async def _over_limits(app: RealtimeApp, address: str | None) -> Refusal | None:
    if app.max_sessions is not None and await app.backend.count() >= app.max_sessions:
        return SERVER_FULL
    limit = app.max_sessions_per_client
    if limit is not None and address is not None and await app.backend.count(address) >= limit:
        return CLIENT_FULL
    return None


SERVER_FULL = Refusal(503, CloseCode.TRY_AGAIN_LATER, "too many sessions: try again later")
CLIENT_FULL = Refusal(429, CloseCode.TRY_AGAIN_LATER, "too many sessions from this address")


async def _read_request(request: Request, timeout: float | None) -> frozenset[str] | None | Refusal:
    """The transports the client asks for (None: any), or a refusal of a bad body."""
    body = await read_body(request, MAX_NEGOTIATE_BODY, timeout)
    if isinstance(body, Refusal):
        return body
    if not body.strip():
        return None
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "negotiation body is not JSON")
    if not isinstance(fields, dict):
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "negotiation body is not a JSON object")
    version = fields.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        return Refusal(400, CloseCode.PROTOCOL_ERROR, f"unsupported protocol version {version!r}")
    transports = fields.get("transports")
    if transports is None:
        return None
    if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "'transports' must be a list of names")
    return frozenset(transports)


async def _authenticate(app: RealtimeApp, request: Request) -> object:
    if app.authenticate is None:
        return None
    try:
        user = await app.authenticate(request)
    except HTTPException as exc:
        code = CloseCode.UNAUTHORIZED
        return Refusal(exc.status_code, code, exc.detail or "authentication refused")
    if user is None:
        return Refusal(401, CloseCode.UNAUTHORIZED, "authentication required")
    return user
