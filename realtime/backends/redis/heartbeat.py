"""This process's heartbeat: how the others tell a live process from a dead one.

Every ``node_ttl / 3`` seconds the process sets its key ``p:node:<id>`` (with a TTL of
``node_ttl``) and its id in ``p:nodes``; another process that finds the key gone takes the
process for dead, detaches its connections and restarts its handlers. A process that is only
busy must never look dead, so the heartbeat does not queue behind the process's own work:

- it beats from a thread of its own, on a Redis connection of its own, so neither an event
  loop held by CPU-bound work nor a connection pool exhausted by a burst delays it;
- it stops beating when the event loop has not run for ``stall`` seconds, so that a process
  whose loop is truly wedged is handed over: busy is a loop that runs late, wedged one that
  does not run at all.

If the process was declared dead all the same (Redis unreachable from it for ``node_ttl``
while the others reached it), its next beat sees that its id had been removed from
``p:nodes`` and calls ``on_reaped`` in the event loop: the backend then ends its connections,
whose clients resume and attach again, so Redis knows again where they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import RedisError

__all__ = ["Heartbeat", "sync_client"]

logger = logging.getLogger("realtime.backends.redis")

SYNC_OPTIONS = ("host", "port", "db", "username", "password", "path", "client_name")
"""Connection options of an asyncio client that a synchronous one takes as they are."""


def sync_client(url: str, options: dict[str, Any] | None, timeout: float) -> redis.Redis:
    """A synchronous client for the heartbeat thread: from the options of the application's
    own client when it gave one (``options``), else from ``url``."""
    if options is None:
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    kwargs = {name: options[name] for name in SYNC_OPTIONS if options.get(name) is not None}
    if "path" in kwargs:
        pool = redis.ConnectionPool(connection_class=redis.UnixDomainSocketConnection, **kwargs)
        return redis.Redis(connection_pool=pool, socket_timeout=timeout)
    return redis.Redis(**kwargs, socket_timeout=timeout, socket_connect_timeout=timeout)


class Heartbeat:
    """Beats for one process; see the module docstring."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        node: str,
        ttl: float,
        stall: float,
        on_reaped: Callable[[], None],
    ) -> None:
        self._client = client
        self._key = f"{prefix}:node:{node}"
        self._nodes = f"{prefix}:nodes"
        self._node = node
        self._ttl_ms = max(1, round(ttl * 1000))
        self.period = ttl / 3
        self.stall = stall
        self._on_reaped = on_reaped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick = time.monotonic()
        """When the event loop last ran the ticker."""

    def beat(self) -> bool:
        """One beat. Return True if the process had been declared dead before it."""
        with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._key, b"1", px=self._ttl_ms)
            pipe.sadd(self._nodes, self._node)
            _, added = pipe.execute()
        return bool(added)

    async def start(self) -> None:
        """Beat once (raising if Redis cannot be reached), then keep beating."""
        await asyncio.to_thread(self.beat)
        self._loop = asyncio.get_running_loop()
        self._tick = time.monotonic()
        self._ticker = asyncio.create_task(self._ticking(), name="realtime-redis-ticker")
        self._thread = threading.Thread(target=self._run, name="realtime-redis-heartbeat")
        self._thread.daemon = True  # a process that exits dies with its heartbeat
        self._thread.start()

    async def stop(self) -> None:
        """Stop beating (the key expires by itself unless the caller deletes it)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self.period + 5.0)
        self._client.close()

    async def _ticking(self) -> None:
        while True:
            self._tick = time.monotonic()
            await asyncio.sleep(self.period)

    def _run(self) -> None:
        stalled = False
        while not self._stop.wait(self.period):
            if time.monotonic() - self._tick > self.stall:
                if not stalled:
                    logger.error(
                        "event loop stalled for over %.0f s: heartbeats stop, "
                        "other processes will take this one's sessions over",
                        self.stall,
                    )
                stalled = True
                continue
            stalled = False
            try:
                reaped = self.beat()
            except (RedisError, OSError):
                continue  # Redis is away: the notifier and the requests say so
            if reaped and self._loop is not None and not self._stop.is_set():
                logger.warning("this process was taken for dead; its connections resume")
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(self._on_reaped)
