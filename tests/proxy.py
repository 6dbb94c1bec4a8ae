"""A fault-injecting TCP proxy for tests: loopback only, bounded in time.

::

    async with FaultProxy(target_port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/realtime"
        proxy.cut()                      # cut every connection now (RST both ways)
        proxy.cut_randomly(0.05, 0.5)    # ...and again at random intervals
        proxy.delay = 0.02               # add latency to every chunk, both ways
        proxy.bandwidth = 50_000         # bytes per second, each direction of each connection
        proxy.blackhole = True           # swallow data but keep connections open (half-dead)
        proxy.stall()                    # ...only on the connections open now
        proxy.reject_websockets = True   # drop WebSocket upgrade requests at once
        proxy.reject = lambda first_bytes: b"/sse?" in first_bytes   # drop matching requests
        proxy.down = True                # the network is down: new connections die at once

Every connection's pumps stop when the proxy closes; the proxy refuses to live longer than
``max_lifetime`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from types import TracebackType

__all__ = ["FAST_RETRY", "FaultProxy"]

CHUNK = 65536


class _Pair:
    __slots__ = ("client", "server", "stalled", "tasks")

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.stalled = False
        self.tasks: list[asyncio.Task[None]] = []

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


FAST_RETRY = {
    "backoff_initial": 0.02,
    "backoff_max": 0.2,
    "open_timeout": 2.0,
    "close_timeout": 1.0,
}
"""Options of ``realtime.client.connect`` for a client behind a FaultProxy: it reconnects within
a fraction of a second of a cut, and gives up a transport after 2 s."""


class FaultProxy:
    def __init__(
        self, target_port: int, *, max_lifetime: float = 300.0, seed: int | None = None
    ) -> None:
        self.target_port = target_port
        self.max_lifetime = max_lifetime
        self.delay = 0.0
        self.bandwidth: float | None = None
        self.blackhole = False
        self.reject_websockets = False
        self.reject: Callable[[bytes], bool] | None = None
        self.down = False
        self.cuts = 0
        """How many connections were cut so far."""
        self.connections = 0
        """How many connections were accepted so far."""
        self._random = random.Random(seed)
        self._pairs: set[_Pair] = set()
        self._server: asyncio.Server | None = None
        self._cutter: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self.port = 0

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._deadline = asyncio.get_running_loop().call_later(self.max_lifetime, self._expire)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _expire(self) -> None:
        asyncio.ensure_future(self.close())

    async def close(self) -> None:
        self.stop_cutting()
        if self._deadline is not None:
            self._deadline.cancel()
        if self._server is not None:
            self._server.close()
        for pair in list(self._pairs):
            pair.abort()
        self._pairs.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    # -- Faults ---------------------------------------------------------------------------

    def cut(self) -> int:
        """Cut every open connection now; return how many."""
        pairs = list(self._pairs)
        for pair in pairs:
            pair.abort()
        self._pairs.difference_update(pairs)
        self.cuts += len(pairs)
        return len(pairs)

    def stall(self) -> int:
        """Make every open connection half-dead: open, but passing nothing either way."""
        for pair in self._pairs:
            pair.stalled = True
        return len(self._pairs)

    def cut_randomly(self, low: float, high: float) -> None:
        """Cut every connection at random intervals between ``low`` and ``high`` seconds."""
        self.stop_cutting()
        self._cutter = asyncio.create_task(self._cut_forever(low, high))

    def stop_cutting(self) -> None:
        if self._cutter is not None:
            self._cutter.cancel()
            self._cutter = None

    async def _cut_forever(self, low: float, high: float) -> None:
        while True:
            await asyncio.sleep(self._random.uniform(low, high))
            self.cut()

    # -- Plumbing -------------------------------------------------------------------------

    def _refuses(self, request: bytes) -> bool:
        if self.reject_websockets and b"upgrade: websocket" in request.lower():
            return True
        return self.reject is not None and self.reject(request)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair, upstream=True)),
            asyncio.create_task(self._pump(up_reader, writer, pair, upstream=False)),
        ]

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: _Pair,
        *,
        upstream: bool,
    ) -> None:
        first = upstream
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if first:
                    first = False
                    if self._refuses(data):
                        pair.abort()
                        self._pairs.discard(pair)
                        return
                if self.blackhole or pair.stalled:
                    continue
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.bandwidth:
                    await asyncio.sleep(len(data) / self.bandwidth)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, asyncio.IncompleteReadError):
            pair.abort()
            self._pairs.discard(pair)
