"""The WebSocket transport: one frame per WebSocket message, both ways.

``GET <mount>/websocket?sid=...&token=...&last=N`` upgrades, attaches to the session and
replays what follows message N. Text frames travel as text messages; binary data frames as
binary messages (``b<seq>:`` then the raw bytes), so no base64 is paid.

A reader task takes the client's frames (data into the session's inbox, acks, pings, close);
the shared downstream pump writes. When either ends, the other is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from realtime.exceptions import BackendError, ProtocolError, SessionClosed, UnknownSession
from realtime.protocol.buffer import ReplayGap
from realtime.protocol.connection import ConnectionProtocol, Violation
from realtime.protocol.frames import (
    Ack,
    Close,
    CloseCode,
    Data,
    Frame,
    Hello,
    Ping,
    Reconnect,
    encode_binary_data,
    encode_frame,
    message_size,
)
from realtime.protocol.limits import RateLimited
from realtime.protocol.session import InboxFull
from realtime.transports._pump import pump
from realtime.transports.base import (
    BACKEND_UNAVAILABLE,
    ORIGIN_REFUSED,
    WINDOW_EXCEEDED,
    Connection,
    Refusal,
    detach_quietly,
    find_session,
    parse_last,
    query_of,
    refuse_resume,
)
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["WebSocketTransport"]

logger = logging.getLogger("realtime.transports.websocket")


class _Writer:
    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def send_frame(self, frame: Frame) -> None:
        await self._send({"type": "websocket.send", "text": encode_frame(frame)})

    async def write_control(self, frames: list[Frame]) -> None:
        for frame in frames:
            await self.send_frame(frame)

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        send = self._send
        for seq, data in messages:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": f"d{seq}:{data}"})
            else:
                await send({"type": "websocket.send", "bytes": encode_binary_data(seq, data)})

    async def end(self, frame: Close | Reconnect) -> None:
        if isinstance(frame, Close):
            await self.send_frame(frame)
        await self._send({"type": "websocket.close", "code": frame.code, "reason": frame.reason})


class WebSocketTransport:
    """ASGI endpoint of the WebSocket transport."""

    def __init__(self, app: RealtimeApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        query = query_of(websocket)
        found = await find_session(self.app, websocket, query)
        if found is ORIGIN_REFUSED:
            await _deny(websocket, found)
            return
        last = parse_last(query.get("last"))
        del query  # not kept for the life of the connection
        await websocket.accept()
        writer = _Writer(send)
        if isinstance(found, Refusal) or isinstance(last, Refusal):
            refusal = found if isinstance(found, Refusal) else last
            assert isinstance(refusal, Refusal)
            await writer.end(refusal.frame())
            return
        conn = Connection("websocket")
        self.app._track(conn)
        try:
            await self._serve(found.id, conn, last, websocket, receive, writer)
        except OSError:
            pass  # the client went away mid-write
        except BackendError:
            with contextlib.suppress(OSError):
                await writer.end(BACKEND_UNAVAILABLE.frame())
        finally:
            self.app._untrack(conn)
            await detach_quietly(self.app, found.id, conn)

    async def _serve(
        self,
        session_id: SessionId,
        conn: Connection,
        last: int,
        websocket: WebSocket,
        receive: Receive,
        writer: _Writer,
    ) -> None:
        app = self.app
        try:
            attached = await app.backend.attach(session_id, conn, "websocket", last, app.clock())
        except (ReplayGap, ProtocolError, UnknownSession) as exc:
            await writer.end(await refuse_resume(app, session_id, exc))
            return
        await app._connected(session_id, conn, attached, websocket)
        loop = asyncio.get_running_loop()
        proto = ConnectionProtocol(
            is_server=True,
            now=loop.time(),
            max_message_size=app.max_message_size,
            ping_interval=app.ping_interval,
            ping_timeout=app.ping_timeout,
            ack_batch=max(1, (app.max_queue or 1024) // 4),
            received=attached.ack,
        )
        await writer.send_frame(Hello(attached.ack))
        reader = asyncio.create_task(self._read(session_id, conn, proto, receive))  # raw ASGI
        downstream = asyncio.create_task(pump(app, session_id, conn, proto, last, writer))
        # Wait for the first to end (asyncio.wait would do, at a kilobyte per idle connection).
        first = loop.create_future()

        def ended(_: object) -> None:
            if not first.done():
                first.set_result(None)

        reader.add_done_callback(ended)
        downstream.add_done_callback(ended)
        try:
            await first
            if reader.done() and not reader.cancelled() and reader.result():
                # The session ended from this side: let the pump write the close.
                await asyncio.wait({downstream}, timeout=app.send_timeout)
        finally:
            for task in (reader, downstream):
                task.cancel()
            results = await asyncio.gather(reader, downstream, return_exceptions=True)
        for result in results:
            if isinstance(result, BackendError):
                raise result
            if isinstance(result, BaseException) and not isinstance(
                result, (asyncio.CancelledError, OSError, TimeoutError)
            ):
                logger.error("websocket connection of %s failed", session_id, exc_info=result)

    async def _read(
        self, session_id: SessionId, conn: Connection, proto: ConnectionProtocol, receive: Receive
    ) -> bool:
        """Take the client's frames; return True if the session ended, False on disconnect."""
        backend = self.app.backend
        loop = asyncio.get_running_loop()
        while True:
            message: Message = await receive()
            if message["type"] != "websocket.receive":
                return False  # websocket.disconnect
            raw: Any = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            now = loop.time()
            frame = proto.receive(raw, now)
            if isinstance(frame, Data):
                try:
                    size = message_size(frame.data)
                    await backend.deliver(session_id, frame.seq, frame.data, size, self.app.clock())
                except InboxFull:
                    await backend.close(session_id, *WINDOW_EXCEEDED)
                    return True
                except RateLimited as exc:
                    await backend.close(session_id, CloseCode.RATE_LIMITED, str(exc))
                    return True
                except SessionClosed:
                    return True
                except ProtocolError as exc:
                    await backend.close(session_id, exc.code, str(exc))
                    return True
            elif isinstance(frame, Ack):
                try:
                    await backend.ack(session_id, frame.seq)
                except ProtocolError as exc:
                    await backend.close(session_id, exc.code, str(exc))
                    return True
            elif isinstance(frame, Ping):
                conn.wake()
            elif isinstance(frame, Close):
                await backend.close(session_id, frame.code, frame.reason)
                return True
            elif isinstance(frame, Violation):
                await backend.close(session_id, frame.code, frame.reason)
                return True


async def _deny(websocket: WebSocket, refusal: Refusal) -> None:
    """Refuse the handshake itself (HTTP 403 where the server supports it)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        with contextlib.suppress(RuntimeError):
            await websocket.send_denial_response(refusal.response())
            return
    await websocket.close(refusal.code, refusal.reason)
