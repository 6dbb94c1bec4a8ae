"""Client to server over HTTP: ``POST <mount>/sse`` and ``POST <mount>/longpoll``.

The body is a batch (a JSON array of frames, ``Content-Type: application/json``): data,
acks, pings, pongs or a close. The answer is a batch too, starting with the ack of every
message the server now holds (``["a12"]``), plus a pong for a ping and the close for a close.

The JSON content type is required: a cross-site HTML form cannot send it without a CORS
preflight, so a POST carries no authority from ambient cookies (the token is required anyway).
A body is refused as soon as it passes its size limit, before it is read in full.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.exceptions import BackendError, ProtocolError, SessionClosed
from realtime.protocol.batch import decode_batch
from realtime.protocol.connection import ConnectionProtocol, Violation
from realtime.protocol.frames import (
    Ack,
    Close,
    CloseCode,
    Data,
    Ping,
    Pong,
    encode_frame,
    message_size,
)
from realtime.protocol.limits import RateLimited
from realtime.protocol.session import InboxFull
from realtime.transports.base import (
    BACKEND_UNAVAILABLE,
    WINDOW_EXCEEDED,
    Refusal,
    find_session,
    query_of,
    read_body,
)
from realtime.transports.longpoll import batch_response
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["UpstreamEndpoint", "max_body_size"]


def max_body_size(app: RealtimeApp) -> int:
    """Largest POST body: one maximal message in base64 (4/3) plus room for small frames."""
    if app.max_message_size is None:
        return 64 * 2**20
    return app.max_message_size * 4 // 3 + 64 * 1024


class UpstreamEndpoint:
    """ASGI endpoint taking the client's frames by POST."""

    def __init__(self, app: RealtimeApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._handle(Request(scope, receive))
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        found = await find_session(self.app, request, query_of(request))
        if isinstance(found, Refusal):
            return found.response()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return Refusal(
                415, CloseCode.PROTOCOL_ERROR, "POST a JSON batch (application/json)"
            ).response()
        body = await read_body(request, max_body_size(self.app), self.app.read_timeout)
        if isinstance(body, Refusal):
            if body.code == CloseCode.MESSAGE_TOO_BIG:
                return await self._fail(found.id, body.code, body.reason)
            return body.response()
        try:
            raw_frames = decode_batch(body, max_frames=self.app.max_batch)
        except ProtocolError as exc:
            return await self._fail(found.id, exc.code, str(exc))
        await self.app.backend.touch(found.id, self.app.clock())
        return await self._process(found.id, raw_frames)

    async def _process(self, session_id: SessionId, raw_frames: list[str]) -> Response:
        app = self.app
        backend = app.backend
        now = asyncio.get_running_loop().time()
        proto = ConnectionProtocol(is_server=True, now=now, max_message_size=app.max_message_size)
        replies: list[str] = []
        watermark: int | None = None
        for raw in raw_frames:
            frame = proto.receive(raw, now)
            try:
                if isinstance(frame, Data):
                    size = message_size(frame.data)
                    watermark = await backend.deliver(
                        session_id, frame.seq, frame.data, size, app.clock()
                    )
                elif isinstance(frame, Ack):
                    await backend.ack(session_id, frame.seq)
                elif isinstance(frame, Ping):
                    replies.append(encode_frame(Pong()))
                elif isinstance(frame, Close):
                    await backend.close(session_id, frame.code, frame.reason)
                    replies.append(encode_frame(frame))
                    break
                elif isinstance(frame, Violation):
                    return await self._fail(session_id, frame.code, frame.reason)
            except ProtocolError as exc:
                return await self._fail(session_id, exc.code, str(exc))
            except InboxFull:
                return await self._fail(session_id, *WINDOW_EXCEEDED)
            except RateLimited as exc:
                return await self._fail(session_id, CloseCode.RATE_LIMITED, str(exc), 429)
            except SessionClosed as exc:
                replies.append(encode_frame(Close(exc.code, exc.reason)))
                break
        if watermark is not None:
            replies.insert(0, f"a{watermark}")
        return batch_response(replies)

    async def _fail(
        self, session_id: SessionId, code: int, reason: str, status: int | None = None
    ) -> Response:
        """Bad input ends the session with ``code``; the answer is ``status``, by default 413
        for a message too big and 400 otherwise, with the code in the body."""
        await self.app.backend.close(session_id, code, reason)
        if status is None:
            status = 413 if code == CloseCode.MESSAGE_TOO_BIG else 400
        return Refusal(status, code, reason).response()
