"""The WebSocket transport: one frame per WebSocket message, both ways.

``GET <mount>/websocket?sid=...&token=...&last=N`` upgrades, attaches to the session and
replays what follows message N. Text frames travel as text messages; binary data frames as
binary messages (``b<seq>:`` then the raw bytes), so no base64 is paid.

The connection's own ASGI task reads the client's frames and hands them to the engine; the
engine's pump writes (mostly inline, from the task that made the news). When either ends, the
other is stopped. A GET without an Upgrade (a proxy stripped it) answers 426.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from realtime.exceptions import BackendError
from realtime.protocol.codes import CloseCode
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import (
    Close,
    Frame,
    Pong,
    Reconnect,
    encode_binary_data,
    encode_data,
    encode_frame,
)
from realtime.server.credentials import SUBPROTOCOL, offers_subprotocol
from realtime.server.engine import Channel, Engine
from realtime.server.http import query_of
from realtime.server.refusals import BACKEND_UNAVAILABLE, Refusal, is_origin_refusal
from realtime.server.security import client_key

__all__ = ["WebSocketTransport", "upgrade_required"]

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
                await send({"type": "websocket.send", "text": encode_data(seq, data)})
            else:
                await send({"type": "websocket.send", "bytes": encode_binary_data(seq, data)})

    async def end(self, frame: Close | Reconnect, last: int = 0) -> None:
        if isinstance(frame, Close):
            await self.send_frame(frame)
        await self._send({"type": "websocket.close", "code": frame.code, "reason": frame.reason})


class WebSocketTransport:
    """ASGI endpoint of the WebSocket transport."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        websocket = WebSocket(scope, receive, send)
        query = query_of(websocket)
        found = await engine.find(websocket, query)
        if isinstance(found, Refusal) and is_origin_refusal(found):
            await _deny(websocket, found)
            return
        last = engine.resume_point(query.get("last"))
        del query  # not kept for the life of the connection
        await websocket.accept(subprotocol=SUBPROTOCOL if offers_subprotocol(websocket) else None)
        writer = _Writer(send)
        if isinstance(found, Refusal) or isinstance(last, Refusal):
            refusal = found if isinstance(found, Refusal) else last
            assert isinstance(refusal, Refusal)
            await writer.end(refusal.frame())
            return
        try:
            opened = await engine.open(found, "websocket", last, websocket)
        except BackendError:
            with contextlib.suppress(OSError):
                await writer.end(BACKEND_UNAVAILABLE.frame())
            return
        if isinstance(opened, Close):
            with contextlib.suppress(OSError):
                await writer.end(opened)
            return
        try:
            client = websocket.client
            sender = client_key(client.host if client is not None else None)
            await self._serve(opened, last, receive, writer, sender)
        except OSError:
            # The socket closed under a write, before the reader saw why: the server's
            # WebSocket layer may have refused a frame (1007...), which ends the session.
            await self._hear_the_end(opened, receive)
        except BackendError:
            with contextlib.suppress(OSError):
                await writer.end(BACKEND_UNAVAILABLE.frame())
        finally:
            await engine.release(opened)

    async def _hear_the_end(self, channel: Channel, receive: Receive) -> None:
        """Read the ``websocket.disconnect`` the server queued, and act on its code."""
        with contextlib.suppress(TimeoutError, OSError, RuntimeError, BackendError):
            async with asyncio.timeout(1.0):
                while (message := await receive())["type"] != "websocket.disconnect":
                    pass
                await self._hung_up(channel, message)

    async def _hung_up(self, channel: Channel, disconnect: Message) -> None:
        """Hand the code of a ``websocket.disconnect`` to the engine."""
        code, reason = disconnect.get("code"), disconnect.get("reason") or ""
        await self.engine.hung_up(channel.session_id, code, reason)

    async def _serve(
        self, channel: Channel, last: int, receive: Receive, writer: _Writer, sender: str | None
    ) -> None:
        """Read the client's frames in this (the connection's ASGI) task while the engine's
        pump writes in a task of its own; when either ends, the other is stopped."""
        engine = self.engine
        proto = engine.protocol(channel, last)
        await writer.send_frame(channel.hello)
        me = asyncio.current_task()
        assert me is not None
        downstream = asyncio.create_task(engine.pump(channel, proto, last, writer))
        reading = True  # this task reads: the pump's end must stop it
        stopped = False  # the pump ended first and cancelled the reading

        def pump_ended(_: object) -> None:
            nonlocal stopped
            if reading:
                stopped = True
                me.cancel()

        downstream.add_done_callback(pump_ended)
        try:
            try:
                session_ended = await self._read(channel, proto, receive, sender)
            except asyncio.CancelledError:
                if not stopped or me.uncancel() > 0:
                    raise
                session_ended = False
            finally:
                reading = False
            if session_ended and not downstream.done():
                # The session ended from this side: let the pump write the close.
                await asyncio.wait({downstream}, timeout=engine.settings.send_timeout)
        finally:
            downstream.cancel()
            (result,) = await asyncio.gather(downstream, return_exceptions=True)
        if isinstance(result, BackendError):
            raise result
        if isinstance(result, BaseException) and not isinstance(
            result, (asyncio.CancelledError, OSError, TimeoutError)
        ):
            logger.error("websocket connection of %s failed", channel.session_id, exc_info=result)

    async def _read(
        self, channel: Channel, proto: ConnectionProtocol, receive: Receive, sender: str | None
    ) -> bool:
        """Take the client's frames (from the address ``sender``); return True if the session
        ended, False on disconnect."""
        take = self.engine.take
        session_id = channel.session_id
        loop = asyncio.get_running_loop()
        while True:
            message: Message = await receive()
            if message["type"] != "websocket.receive":  # websocket.disconnect
                await self._hung_up(channel, message)
                return False
            raw: Any = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            taken = await take(session_id, proto, raw, loop.time(), sender)
            if taken is None or isinstance(taken, int):
                continue
            if isinstance(taken, Pong):
                channel.wake()  # the pump writes the pong the protocol now owes
                continue
            if isinstance(taken, Refusal) and taken.code == CloseCode.TRY_AGAIN_LATER:
                channel.disconnect(taken.code, taken.reason)  # the session lives on
            channel.wake()  # the pump writes the close (or finds the session gone)
            return True  # a close, or bad input that closed the session


async def _deny(websocket: WebSocket, refusal: Refusal) -> None:
    """Refuse the handshake itself (HTTP 403 where the server supports it)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        with contextlib.suppress(RuntimeError):
            await websocket.send_denial_response(refusal.response())
            return
    await websocket.close(refusal.code, refusal.reason)


async def upgrade_required(request: Request) -> Response:
    """A plain GET on the WebSocket endpoint: a proxy on the way dropped the Upgrade header.

    426 with ``Cache-Control: no-store``, never a 404 that a caching proxy would keep and
    serve to the client's later attempts.
    """
    return JSONResponse(
        {
            "error": "this endpoint takes WebSocket upgrades only: a proxy dropped the Upgrade",
            "code": CloseCode.PROTOCOL_ERROR,
        },
        status_code=426,
        headers={"cache-control": "no-store", "upgrade": "websocket"},
    )
