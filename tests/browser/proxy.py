"""A TCP proxy on 127.0.0.1, run in a thread, that the browser tests put between Chromium and
uvicorn to break the network in two ways:

- :meth:`Proxy.kill` cuts every open connection at once (a reset) and refuses new ones for a
  while, as a network outage does (a mere reset of idle keep-alive connections, browsers
  retry by themselves);
- ``hold_event_streams=True`` passes on the headers of every ``text/event-stream`` response but
  holds its body back until the server ends it, as buffering proxies (and scanning anti-virus
  proxies) do: the browser sees the stream open and then nothing, while the server writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Proxy"]

T = TypeVar("T")


def _starts_event_stream(chunk: bytes) -> bool:
    """Whether ``chunk`` starts an HTTP response of type text/event-stream."""
    head = chunk.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(b"http/") and b"content-type: text/event-stream" in head


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target>``. Use as a context manager."""

    def __init__(self, target: int, *, hold_event_streams: bool = False) -> None:
        self.target = target
        self.hold_event_streams = hold_event_streams
        self.held = 0
        """Bytes of event streams held back so far."""
        self._held_changed = threading.Condition()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._refuse_until = 0.0

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_held(self, more_than: int, timeout: float) -> bool:
        """Wait until more than ``more_than`` bytes were held back; False after ``timeout``."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: self.held > more_than, timeout)

    def kill(self, outage: float = 0.0) -> int:
        """Reset every open connection, and those that come in the next ``outage`` seconds;
        return how many connections were open."""
        self._refuse_until = self._loop.time() + outage
        return self._call(self._kill())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self._sock)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._kill()  # every connection's task then ends by itself
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._server.wait_closed()

    async def _kill(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers) // 2

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._forward(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._loop.time() < self._refuse_until:
            writer.transport.abort()
            return
        try:
            upstream = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream[1]))
        try:
            await asyncio.gather(
                self._pipe(reader, upstream[1], downstream=False),
                self._pipe(upstream[0], writer, downstream=True),
            )
        finally:
            for side in (writer, upstream[1]):
                self._writers.discard(side)
                side.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        held: list[bytes] = []
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                if (
                    downstream
                    and self.hold_event_streams
                    and not held
                    and _starts_event_stream(chunk)
                ):
                    head, separator, chunk = chunk.partition(b"\r\n\r\n")
                    writer.write(head + separator)
                    held.append(b"")  # from here on, this connection's bytes wait
                if held:
                    held.append(chunk)
                    with self._held_changed:
                        self.held += len(chunk)
                        self._held_changed.notify_all()
                    continue
                writer.write(chunk)
                await writer.drain()
            writer.write(b"".join(held))  # the stream ended: a buffering proxy lets it go now
            if writer.can_write_eof():
                writer.write_eof()
