"""A fault-injecting TCP proxy for tests: loopback only, bounded in time.

Put it between a client and a server that runs on 127.0.0.1, point the client at the proxy's
port, and break the network from the test while the client talks::

    async with FaultProxy(server_url) as proxy:  # "http://127.0.0.1:8000", or its port
        url = proxy.url("/realtime")     # http://127.0.0.1:<proxy port>/realtime
        proxy.cut()                      # cut every connection now (RST both ways)
        proxy.cut_randomly(0.05, 0.5)    # ...and again at random intervals
        proxy.delay = 0.02               # add latency to every chunk, both ways
        proxy.bandwidth = 50_000         # bytes per second, each direction of each connection
        proxy.blackhole = True           # swallow data but keep connections open (half-dead)
        proxy.stall()                    # ...only on the connections open now
        proxy.reject_websockets = True   # drop WebSocket upgrade requests at once
        proxy.reject = lambda first_bytes: b"/sse?" in first_bytes   # drop matching requests
        proxy.down = True                # the network is down: new connections die at once

It forwards bytes and knows nothing of HTTP or of realtime's protocol beyond the first chunk
of each connection (for ``reject`` and ``reject_websockets``), so it works for any TCP
service: a Redis server, say, to test a backend outage. It runs in the test's asyncio event
loop. Every connection's pumps stop when the proxy closes; the proxy closes itself after
``max_lifetime`` seconds, so a forgotten one cannot outlive a test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["FAST_RETRY", "FaultProxy"]

CHUNK = 65536

FAST_RETRY = {
    "backoff_initial": 0.02,
    "backoff_max": 0.2,
    "open_timeout": 2.0,
    "close_timeout": 1.0,
}
"""Options of :func:`realtime.client.connect` for a client behind a :class:`FaultProxy`: it
reconnects within a fraction of a second of a cut, and gives up a transport after 2 s.
``realtime.client.connect(proxy.url("/realtime"), **FAST_RETRY)``."""


def _loopback_port(url: str) -> int:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise ValueError(f"FaultProxy needs a server on 127.0.0.1 with a port, not {url!r}")
    return parts.port


class _Pair:
    """One proxied connection: the client's side and the server's, and the two pumps."""

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


class FaultProxy:
    """A TCP proxy from a free port on 127.0.0.1 to a port on 127.0.0.1.

    Use it as an async context manager (``async with FaultProxy(port) as proxy:``), which
    listens on entry and closes every connection on exit. The faults are attributes to set
    and methods to call at any moment; they apply to the data that flows from then on.

    Args:
        target: The server: its port on 127.0.0.1, or its URL (``http://127.0.0.1:8000``,
            as :func:`~realtime.testing.live_server` yields it).
        max_lifetime: Seconds after which the proxy closes itself.
        seed: Seeds the random intervals of :meth:`cut_randomly`, to replay a run.
    """

    def __init__(
        self, target: int | str, *, max_lifetime: float = 300.0, seed: int | None = None
    ) -> None:
        self.target_port = target if isinstance(target, int) else _loopback_port(target)
        """The server's port."""
        self.max_lifetime = max_lifetime
        self.delay = 0.0
        """Seconds to hold every chunk, in both directions (latency)."""
        self.bandwidth: float | None = None
        """Bytes per second, in each direction of each connection; None: unlimited."""
        self.blackhole = False
        """Swallow all data, keeping the connections open: a half-dead network."""
        self.reject_websockets = False
        """Abort connections whose first request asks for a WebSocket upgrade, as a proxy
        that does not pass upgrades on ends them."""
        self.reject: Callable[[bytes], bool] | None = None
        """Abort connections whose first chunk (the request line and headers) this returns
        True for: ``lambda head: b"/sse?" in head`` breaks event streams only."""
        self.down = False
        """Abort new connections as soon as they are accepted: the network is down."""
        self.cuts = 0
        """How many connections were cut so far."""
        self.connections = 0
        """How many connections were accepted so far."""
        self.port = 0
        """The proxy's own port on 127.0.0.1, once entered."""
        self._random = random.Random(seed)
        self._pairs: set[_Pair] = set()
        self._server: asyncio.Server | None = None
        self._cutter: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def url(self, path: str = "", scheme: str = "http") -> str:
        """The proxy's URL with ``path``: ``proxy.url("/realtime")``."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

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
        """Stop listening and cut every connection (the context manager's exit does it)."""
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
        """Cut every open connection now, with a reset both ways; return how many."""
        pairs = list(self._pairs)
        for pair in pairs:
            pair.abort()
        self._pairs.difference_update(pairs)
        self.cuts += len(pairs)
        return len(pairs)

    def stall(self) -> int:
        """Make every open connection half-dead: open, but passing nothing either way, as
        after a NAT or a mobile network forgot it. New connections pass; return how many
        were stalled."""
        for pair in self._pairs:
            pair.stalled = True
        return len(self._pairs)

    def cut_randomly(self, low: float, high: float) -> None:
        """Cut every connection at random intervals between ``low`` and ``high`` seconds,
        until :meth:`stop_cutting` or the proxy closes."""
        self.stop_cutting()
        self._cutter = asyncio.create_task(self._cut_forever(low, high))

    def stop_cutting(self) -> None:
        """Stop the cuts of :meth:`cut_randomly`."""
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
