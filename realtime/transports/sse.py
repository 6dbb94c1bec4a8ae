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
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.exceptions import BackendError, ProtocolError, UnknownSession
from realtime.protocol.buffer import ReplayGap
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import Close, Frame, Hello, Reconnect, encode_data, encode_frame
from realtime.protocol.session import SessionStatus
from realtime.protocol.sse import PRELUDE_PADDING, encode_comment, encode_event, encode_retry
from realtime.transports._pump import pump
from realtime.transports.base import (
    BACKEND_UNAVAILABLE,
    Connection,
    Refusal,
    detach_quietly,
    find_session,
    parse_last,
    query_of,
    refuse_resume,
    watch_disconnect,
)
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["SSETransport"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store, no-transform"),
    (b"x-accel-buffering", b"no"),
]
RETRY_MS = 1000
"""How long a native EventSource waits before it reconnects."""


def _encode_data(seq: int, data: str | bytes) -> bytes:
    if isinstance(data, str) and "\n" not in data and "\r" not in data:
        return f"id: {seq}\ndata: d{seq}:{data}\n\n".encode()
    return encode_event(encode_data(seq, data), seq)


class _Writer:
    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def _write(self, body: bytes) -> None:
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def write_control(self, frames: list[Frame]) -> None:
        await self._write(b"".join(encode_event(encode_frame(f)) for f in frames))

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        await self._write(b"".join(_encode_data(seq, data) for seq, data in messages))

    async def end(self, frame: Close | Reconnect) -> None:
        body = encode_event(encode_frame(frame))
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


class SSETransport:
    """ASGI endpoint of the SSE stream (``GET``); upstream POSTs go to the upstream endpoint."""

    def __init__(self, app: RealtimeApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        query = query_of(request)
        found = await find_session(self.app, request, query)
        if isinstance(found, Refusal):
            await found.response()(scope, receive, send)
            return
        last = parse_last(request.headers.get("last-event-id") or query.get("last"))
        del query  # not kept for the life of the stream
        if isinstance(last, Refusal):
            await last.response()(scope, receive, send)
            return
        try:
            if await self._drained(found.id, last):
                # Everything was delivered: 204 tells a native EventSource to stop reconnecting.
                await Response(status_code=204)(scope, receive, send)
                return
        except BackendError:
            await BACKEND_UNAVAILABLE.response()(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        writer = _Writer(send)
        prelude = encode_comment(" " * PRELUDE_PADDING) + encode_retry(RETRY_MS)
        conn = Connection("sse")
        self.app._track(conn)
        watcher = asyncio.create_task(watch_disconnect(receive))
        try:
            await writer._write(prelude)
            stream = asyncio.create_task(self._stream(found.id, conn, last, writer, request))
            await asyncio.wait({watcher, stream}, return_when=asyncio.FIRST_COMPLETED)
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, TimeoutError):
                await stream
        except OSError:
            pass
        except BackendError:
            with contextlib.suppress(OSError):
                await writer.end(BACKEND_UNAVAILABLE.frame())
        finally:
            watcher.cancel()
            self.app._untrack(conn)
            await detach_quietly(self.app, found.id, conn)

    async def _drained(self, session_id: SessionId, last: int) -> bool:
        """Whether the session is over and the client has received every message."""
        snapshot = await self.app.backend.snapshot(session_id)
        if snapshot is None or snapshot.status != SessionStatus.CLOSED or last == 0:
            return False
        try:
            return not (await self.app.backend.pending(session_id, last, 1, None)).messages
        except (ReplayGap, ProtocolError):
            return False  # the stream answers these with the right close

    async def _stream(
        self, session_id: SessionId, conn: Connection, last: int, writer: _Writer, request: Request
    ) -> None:
        app = self.app
        try:
            attached = await app.backend.attach(session_id, conn, "sse", last, app.clock())
        except (ReplayGap, ProtocolError, UnknownSession) as exc:
            await writer.end(await refuse_resume(app, session_id, exc))
            return
        await app._connected(session_id, conn, attached, request)
        loop = asyncio.get_running_loop()
        proto = ConnectionProtocol(
            is_server=True,
            now=loop.time(),
            ping_interval=app.ping_interval,
            ping_timeout=app.ping_timeout,
        )
        await writer._write(encode_event(encode_frame(Hello(attached.ack))))

        async def still_alive() -> bool:
            """Signs of life arrive by POST, possibly at another process: ask the backend."""
            snapshot = await app.backend.snapshot(session_id)
            if snapshot is None:
                return False
            silent_for = max(0.0, app.clock() - snapshot.last_seen)
            proto.last_received = max(proto.last_received, loop.time() - silent_for)
            return not proto.is_dead(loop.time())

        await pump(app, session_id, conn, proto, last, writer, still_alive)
