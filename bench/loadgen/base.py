"""What every protocol client shares: the target server, the message sink, failures.

A client delivers each application message it receives to ``client.sink(payload)`` (set by
the scenario), in order; it records why it failed instead of raising from its background
tasks, so that a scenario can report an error for its system instead of a number.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.loadgen.http import Counter, HTTPConnection

__all__ = ["Client", "Refused", "Sink", "Target", "Upstream", "abort_ws", "ws_connect"]

Sink = Callable[[str], None]
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0


class Refused(Exception):
    """A transport refused to open (HTTP status, handshake error or close frame)."""


@dataclass(slots=True)
class Target:
    """The server under test, as the clients of one measurement see it."""

    host: str
    port: int
    counter: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    failed: asyncio.Event = field(default_factory=asyncio.Event)

    def http(self) -> HTTPConnection:
        return HTTPConnection(self.host, self.port, self.counter)

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"


async def ws_connect(url: str, headers: dict[str, str] | None = None) -> ClientConnection:
    """The same WebSocket client settings for every system: no compression, no pings;
    ``headers`` go with the handshake (realtime's token)."""
    return await connect(
        url,
        additional_headers=headers,
        compression=None,
        max_size=None,
        ping_interval=None,
        open_timeout=OPEN_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
    )


def _drop(payload: str) -> None:
    pass


class Client(ABC):
    """One session of one system over one transport."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sink: Sink = _drop
        self.failure: str | None = None
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @abstractmethod
    async def open(self) -> None:
        """Open the session; return once messages can flow both ways."""

    @abstractmethod
    async def send(self, text: str) -> None:
        """Send one application message (the bench apps echo it back)."""

    def fail(self, why: str) -> None:
        if self.failure is None and not self.closing:
            self.failure = why
            self.target.failures.append(f"{type(self).__name__}: {why}")
            self.target.failed.set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; an exception becomes this client's failure."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.fail(f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        """Stop the background tasks and drop the connections (no goodbye)."""
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._drop_connections()

    @abstractmethod
    def _drop_connections(self) -> None: ...


def abort_ws(ws: ClientConnection | None) -> None:
    if ws is not None:
        with contextlib.suppress(Exception):
            ws.transport.abort()


class Upstream:
    """Frames POSTed in order with at most one POST in flight (as the protocols require).

    ``encode`` turns a batch into a body. An ack pushed with :meth:`push_ack` replaces any
    ack not sent yet (acks are cumulative) and rides with the next batch.
    """

    def __init__(
        self,
        client: Client,
        http: HTTPConnection,
        path: str,
        headers: dict[str, str],
        encode: Callable[[list[str]], bytes],
        max_batch: int = 256,
    ) -> None:
        self.client = client
        self.http = http
        self.path = path
        self.headers = headers
        self.encode = encode
        self.max_batch = max_batch
        self.frames: list[str] = []
        self.ack: str | None = None
        self._task: asyncio.Task[None] | None = None

    def push(self, frame: str) -> None:
        self.frames.append(frame)
        self._kick()

    def push_ack(self, frame: str) -> None:
        self.ack = frame
        self._kick()

    async def idle(self) -> None:
        """Wait until every frame pushed so far is POSTed and answered."""
        while self._task is not None:
            await asyncio.shield(self._task)

    def _kick(self) -> None:
        if self._task is None:
            self._task = self.client.spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self.frames or self.ack:
                batch = self.frames[: self.max_batch]
                del self.frames[: self.max_batch]
                if self.ack is not None and len(batch) < self.max_batch:
                    batch.append(self.ack)
                    self.ack = None
                response = await self.http.request(
                    "POST", self.path, self.encode(batch), self.headers
                )
                if response.status != 200:
                    self.client.fail(f"POST {self.path}: HTTP {response.status} {response.body!r}")
                    return
        finally:
            self._task = None
