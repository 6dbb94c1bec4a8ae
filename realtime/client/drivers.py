"""The three client transports: loops that move frames between a :class:`Link` and the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from realtime.client.engine import Ended, Link
from realtime.client.upload import ended_from_response, post_loop
from realtime.exceptions import ProtocolError
from realtime.protocol.batch import decode_batch
from realtime.protocol.codes import ABNORMAL_CLOSURE, CloseCode
from realtime.protocol.frames import encode_binary_data, encode_data
from realtime.protocol.sse import SSEParser, frame_from_event_data

__all__ = ["LongPollDriver", "SSEDriver", "WebSocketConnect", "WebSocketDriver"]

TOKEN_HEADER = "x-realtime-token"

WebSocketConnect = Callable[[str, float, Mapping[str, str]], Awaitable[ClientConnection]]
"""Opens a WebSocket to a URL within a timeout, with extra request headers (the token's);
raises ``OSError``, ``InvalidHandshake`` or ``TimeoutError`` when it cannot."""


async def _network_websocket(
    url: str, open_timeout: float, headers: Mapping[str, str]
) -> ClientConnection:
    return await ws_connect(
        url,
        additional_headers=dict(headers),
        max_size=None,
        ping_interval=None,  # the protocol's own heartbeats do this
        open_timeout=open_timeout,
        close_timeout=1.0,
    )


class _Base:
    name = ""

    def __init__(
        self,
        base_url: str,
        session_id: str,
        token: str,
        client: httpx.AsyncClient,
        *,
        max_batch: int,
        open_timeout: float,
        websocket_connect: WebSocketConnect | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.websocket_connect = websocket_connect or _network_websocket
        self.session_id = session_id
        self.token = token
        self.client = client
        self.max_batch = max_batch
        self.open_timeout = open_timeout
        self.fallback: str | None = None
        """``<transport>:<reason>`` when this attempt follows a failed one: sent with the
        opening request, for the server's metrics (``fb``)."""

    def url(self, path: str, **params: object) -> str:
        query = urlencode({"sid": self.session_id, **params})
        return f"{self.base_url}/{path}?{query}"

    def opening_url(self, path: str, **params: object) -> str:
        """The URL of the request that opens a connection, with the fallback if any."""
        return self.url(path, **params, **({"fb": self.fallback} if self.fallback else {}))

    @property
    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token}


async def _first(*coroutines: Coroutine[Any, Any, Ended]) -> Ended:
    """Run the loops of one connection; the first to end ends the others."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _wait_for_room(link: Link) -> None:
    """Pause polling while the application has ``max_queue`` messages unread (each poll
    acknowledges everything received, so the server's window alone does not bound them)."""
    while link.session.inbox_full:
        await link.session.read_signal.wait()


class WebSocketDriver(_Base):
    name = "websocket"

    async def run(self, link: Link) -> Ended:
        url = self.opening_url("websocket", last=link.last)
        url = "ws" + url.removeprefix("http")
        try:
            websocket = await self.websocket_connect(url, self.open_timeout, self.headers)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return Ended(ABNORMAL_CLOSURE, f"websocket failed to open: {exc!r}")
        try:
            reader = asyncio.create_task(self._read(websocket, link))
            writer = asyncio.create_task(self._write(websocket, link))
            try:
                await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
                ended = writer.result() if writer.done() else None
                if ended is not None:  # the server went silent: no close handshake with it
                    websocket.transport.abort()
                    return ended
                # The writer also stops when the connection closed: the reader says how.
                return await reader
            finally:
                for task in (reader, writer):
                    task.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
        finally:
            # 1001, not 1000: a WebSocket closed with 1000 ends its session (PROTOCOL.md 5.1);
            # this one only leaves the connection, to resume or fall back.
            try:
                await websocket.close(CloseCode.GOING_AWAY, "connection ends, the session goes on")
            except BaseException:  # cancelled during the close handshake: drop the socket now
                websocket.transport.abort()
                raise

    async def _read(self, websocket: ClientConnection, link: Link) -> Ended:
        loop = asyncio.get_running_loop()
        try:
            async for raw in websocket:
                ended = link.receive(raw, loop.time())
                if ended is not None:
                    return ended
        except ConnectionClosed:
            pass
        code = websocket.close_code if websocket.close_code is not None else ABNORMAL_CLOSURE
        return Ended(code, websocket.close_reason or "websocket closed")

    async def _write(self, websocket: ClientConnection, link: Link) -> Ended | None:
        loop = asyncio.get_running_loop()
        await link.opened.wait()  # the hello says where to resume sending
        try:
            while True:
                link.wakeup.clear()
                now = loop.time()
                frames = link.control_frames(now)
                messages = link.messages(self.max_batch)
                for frame in frames:
                    await websocket.send(frame)
                for seq, data in messages:
                    if isinstance(data, str):
                        await websocket.send(encode_data(seq, data))
                    else:
                        await websocket.send(encode_binary_data(seq, data))
                    link.cursor = seq
                close = link.close_frame()
                if close is not None:
                    await websocket.send(close)
                link.sent(len(frames) + len(messages), now)
                if link.proto.is_dead(now):
                    return Ended(CloseCode.PING_TIMEOUT, "the server went silent")
                if messages or link.wakeup.is_set():
                    continue
                await link.wait_for_work()
        except ConnectionClosed:
            return None


class SSEDriver(_Base):
    name = "sse"

    async def run(self, link: Link) -> Ended:
        negotiated = link.session.negotiated
        read_timeout = None
        if negotiated.ping_interval is not None and negotiated.ping_timeout is not None:
            read_timeout = negotiated.ping_interval + negotiated.ping_timeout
        timeout = httpx.Timeout(self.open_timeout, read=read_timeout)
        url = self.opening_url("sse", last=link.last)
        headers = {**self.headers, "accept": "text/event-stream"}
        try:
            async with self.client.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code == 204:
                    return Ended(CloseCode.SESSION_EXPIRED, "session over", over=True)
                if response.status_code != 200:
                    await response.aread()
                    return ended_from_response(response)
                upstream = post_loop(
                    self.client, self.url("sse"), self.headers, link, self.max_batch
                )
                return await _first(self._read(response, link), upstream)
        except httpx.ReadTimeout:
            return Ended(CloseCode.PING_TIMEOUT, "the server went silent")
        except httpx.HTTPError as exc:
            return Ended(ABNORMAL_CLOSURE, f"event stream failed: {exc!r}")

    async def _read(self, response: httpx.Response, link: Link) -> Ended:
        loop = asyncio.get_running_loop()
        parser = SSEParser()
        async for chunk in response.aiter_raw():
            for event in parser.feed(chunk):
                try:
                    raw = frame_from_event_data(event.data)
                except ValueError:
                    return Ended(CloseCode.PROTOCOL_ERROR, "bad escaped frame in the event stream")
                ended = link.receive(raw, loop.time())
                if ended is not None:
                    return ended
        return Ended(ABNORMAL_CLOSURE, "event stream ended")


class LongPollDriver(_Base):
    name = "longpoll"

    async def run(self, link: Link) -> Ended:
        upstream = post_loop(self.client, self.url("longpoll"), self.headers, link, self.max_batch)
        return await _first(self._poll(link), upstream)

    async def _poll(self, link: Link) -> Ended:
        loop = asyncio.get_running_loop()
        negotiated = link.session.negotiated
        timeout = httpx.Timeout(self.open_timeout, read=negotiated.poll_timeout + self.open_timeout)
        opening = True
        while True:
            await _wait_for_room(link)
            if opening:
                url = self.opening_url("longpoll", last=link.last, open=1)
            else:
                url = self.url("longpoll", last=link.last)
            try:
                response = await self.client.get(url, headers=self.headers, timeout=timeout)
            except httpx.HTTPError as exc:
                return Ended(ABNORMAL_CLOSURE, f"poll failed: {exc!r}")
            if response.status_code != 200:
                return ended_from_response(response)
            try:
                frames = decode_batch(response.content)
            except ProtocolError as exc:
                return Ended(CloseCode.PROTOCOL_ERROR, f"bad poll answer: {exc}")
            for raw in frames:
                ended = link.receive(raw, loop.time())
                if ended is not None:
                    return ended
            opening = False
