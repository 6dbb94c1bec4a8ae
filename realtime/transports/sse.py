"""The SSE transport: server to client as an event stream; client to server by POST.

``GET <mount>/sse?sid=...&token=...[&last=N]`` answers ``text/event-stream``: a padding
comment (so buffering proxies and browsers flush at once), a ``retry`` field, the hello, then
one event per frame. Data events carry their sequence number in ``id``, so a native
``EventSource`` resumes by itself with ``Last-Event-ID``, which takes precedence over ``last``.

Buffering is defeated where a server can: ``Cache-Control: no-store`` (no-transform too),
``X-Accel-Buffering: no`` for nginx, and the padding prelude. A proxy that still holds the
stream back is detected by clients: the hello does not arrive, they fall back to long-polling.

Pings are ``p`` events (an ``EventSource`` does not expose comments). The client shows it is
alive by POSTing (acks, pongs); silence past the heartbeat timeout ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.backends.base import SessionInfo
from realtime.exceptions import BackendError
from realtime.protocol.codes import CloseCode
from realtime.protocol.frames import Close, Frame, Reconnect, encode_frame
from realtime.protocol.sse import (
    PRELUDE_PADDING,
    STOP_ID_PREFIX,
    encode_comment,
    encode_data_event,
    encode_event,
    encode_retry,
    stop_id,
)
from realtime.server.engine import Channel, Engine
from realtime.server.http import query_of, watch_disconnect
from realtime.server.refusals import BACKEND_UNAVAILABLE, Refusal

__all__ = ["SSETransport"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store, no-transform"),
    (b"x-accel-buffering", b"no"),
]
NO_STORE = {"cache-control": "no-store"}
RETRY_MS = 1000
"""How long a native EventSource waits before it reconnects."""
PRELUDE = encode_comment(" " * PRELUDE_PADDING) + encode_retry(RETRY_MS)


class _Writer:
    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def write(self, body: bytes) -> None:
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def write_control(self, frames: list[Frame]) -> None:
        await self.write(b"".join(encode_event(encode_frame(f)) for f in frames))

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        await self.write(b"".join(encode_data_event(seq, data) for seq, data in messages))

    async def end(self, frame: Close | Reconnect, last: int = 0) -> None:
        stop = isinstance(frame, Close) or frame.code == CloseCode.TRANSPORT_REPLACED
        body = encode_event(encode_frame(frame), stop_id(last) if stop else None)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


class SSETransport:
    """ASGI endpoint of the SSE stream (``GET``); upstream POSTs go to the upstream endpoint."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        request = Request(scope, receive)
        query = query_of(request)
        found = await engine.find(request, query)
        if isinstance(found, Refusal):
            await found.response()(scope, receive, send)
            return
        last_event_id = request.headers.get("last-event-id")
        if last_event_id is not None and last_event_id.startswith(STOP_ID_PREFIX):
            # A native EventSource that was told its stream is over (a close, or another
            # connection took over the session): 204 makes it stop reconnecting.
            await Response(status_code=204, headers=NO_STORE)(scope, receive, send)
            return
        last = engine.resume_point(last_event_id or query.get("last"))
        del query  # not kept for the life of the stream
        if isinstance(last, Refusal):
            await last.response()(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        writer = _Writer(send)
        # The stream is written from this task; a watcher of the client going away stops it.
        me = asyncio.current_task()
        assert me is not None
        streaming = True
        gone = False  # the client went away and the watcher cancelled the stream

        def client_gone(_: object) -> None:
            nonlocal gone
            if streaming:
                gone = True
                me.cancel()

        watcher = asyncio.create_task(watch_disconnect(receive))
        watcher.add_done_callback(client_gone)
        try:
            await writer.write(PRELUDE)
            await self._stream(found, last, writer, request)
        except asyncio.CancelledError:
            if not gone or me.uncancel() > 0:
                raise
        except (OSError, TimeoutError):
            pass
        except BackendError:
            with contextlib.suppress(OSError):
                await writer.end(BACKEND_UNAVAILABLE.frame())
        finally:
            streaming = False
            watcher.cancel()

    async def _stream(
        self, info: SessionInfo, last: int, writer: _Writer, request: Request
    ) -> None:
        engine = self.engine
        opened = await engine.open(info, "sse", last, request)
        if isinstance(opened, Close):
            await writer.end(opened, last)
            return
        try:
            await self._serve(opened, last, writer)
        finally:
            await engine.release(opened)

    async def _serve(self, channel: Channel, last: int, writer: _Writer) -> None:
        engine = self.engine
        proto = engine.protocol(channel, last)
        await writer.write(encode_event(encode_frame(channel.hello)))

        async def still_alive() -> bool:
            """Signs of life arrive by POST, possibly at another process."""
            return await engine.heard_from(channel.session_id, proto)

        await engine.pump(channel, proto, last, writer, still_alive)
