"""A hostile HTTP proxy on loopback, for the time-to-first-message scenarios.

It looks at the first request and the first response of each TCP connection, then relays
bytes both ways:

- ``block_websocket``: a request with ``Upgrade: websocket`` gets ``404 Not Found`` (what a
  proxy that drops the Upgrade header gets from Starlette, or a firewall that refuses it);
- ``buffer_sse``: a ``text/event-stream`` answer gets its head through, but its body is held
  back until the server ends it (a proxy buffering whole responses, which no padding defeats).

Everything else passes untouched. The proxy runs in the load generator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

__all__ = ["HostileProxy"]

HEAD_END = b"\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nNot Found"
HEAD_TIMEOUT = 30.0
STOP_TIMEOUT = 2.0


class HostileProxy:
    def __init__(self, upstream_port: int, *, block_websocket: bool, buffer_sse: bool) -> None:
        self.upstream_port = upstream_port
        self.block_websocket = block_websocket
        self.buffer_sse = buffer_sse
        self.port = 0
        self.refused_upgrades = 0
        self.buffered_streams = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def stop(self) -> None:
        """Stop listening and cut every relayed connection (their handlers then end)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=STOP_TIMEOUT)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(client_w)
        upstream_w: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(client_r.readuntil(HEAD_END), HEAD_TIMEOUT)
            if self.block_websocket and b"upgrade: websocket" in head.lower():
                self.refused_upgrades += 1
                client_w.write(NOT_FOUND)
                await client_w.drain()
                return
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.add(upstream_w)
            upstream_w.write(head)
            up = asyncio.create_task(_relay(client_r, upstream_w))
            down = asyncio.create_task(self._downstream(upstream_r, client_w))
            try:
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                up.cancel()
                down.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            self._handlers.discard(task)
            for writer in (client_w, upstream_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()

    async def _downstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.buffer_sse:
            head = await reader.readuntil(HEAD_END)
            writer.write(head)
            if b"text/event-stream" in head.lower():
                self.buffered_streams += 1
                held = [data async for data in _reads(reader)]
                writer.write(b"".join(held))
                with contextlib.suppress(OSError):
                    await writer.drain()
                return
        await _relay(reader, writer)


async def _reads(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while data := await reader.read(65536):
        yield data


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for data in _reads(reader):
        writer.write(data)
        await writer.drain()
