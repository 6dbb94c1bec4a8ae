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

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.exceptions import BackendError, ProtocolError
from realtime.protocol.batch import decode_batch
from realtime.protocol.codes import CloseCode
from realtime.protocol.frames import Close, Pong, encode_ack, encode_frame
from realtime.server.engine import Engine, refusal_for
from realtime.server.http import is_json, query_of, read_body
from realtime.server.refusals import BACKEND_UNAVAILABLE, Refusal
from realtime.server.security import client_key
from realtime.transports.longpoll import batch_response
from realtime.types import SessionId

__all__ = ["UpstreamEndpoint"]

NOT_JSON = Refusal(415, CloseCode.PROTOCOL_ERROR, "POST a JSON batch (application/json)")


class UpstreamEndpoint:
    """ASGI endpoint taking the client's frames by POST."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._handle(Request(scope, receive))
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        engine = self.engine
        settings = engine.settings
        found = await engine.find(request, query_of(request))
        if isinstance(found, Refusal):
            return found.response()
        if not is_json(request):
            return NOT_JSON.response()
        body = await read_body(request, settings.max_body_size, settings.read_timeout)
        if isinstance(body, Refusal):
            if body.code == CloseCode.MESSAGE_TOO_BIG:
                return (await engine.fail(found.id, body)).response()
            return body.response()
        try:
            raw_frames = decode_batch(body, max_frames=settings.max_batch)
        except ProtocolError as exc:
            return (await engine.fail(found.id, refusal_for(exc))).response()
        await engine.touch(found.id)
        client = request.client
        return await self._take(
            found.id, raw_frames, client_key(client.host if client is not None else None)
        )

    async def _take(
        self, session_id: SessionId, raw_frames: list[str], sender: str | None
    ) -> Response:
        engine = self.engine
        now = asyncio.get_running_loop().time()
        proto = engine.post_protocol()
        replies: list[str] = []
        watermark: int | None = None
        for raw in raw_frames:
            taken = await engine.take(session_id, proto, raw, now, sender)
            if isinstance(taken, int):
                watermark = taken
            elif isinstance(taken, Pong):
                replies.append(encode_frame(taken))
            elif isinstance(taken, Close):
                replies.append(encode_frame(taken))
                break
            elif isinstance(taken, Refusal):
                return taken.response()
        if watermark is not None:
            replies.insert(0, encode_ack(watermark))
        return batch_response(replies)
