"""realtime on Redis: the app of ``bench.apps.realtime_app`` with a :class:`RedisBackend`.

Set by the scale-out scenario for each node, in the environment:

- ``BENCH_REDIS_URL``: where Redis is, e.g. ``redis://127.0.0.1:6379/0``;
- ``BENCH_REDIS_PREFIX``: the prefix of every key;
- ``BENCH_REDIS_POOL``: the backend's connection pool. ``library``: the client
  ``RedisBackend(url)`` makes itself, on redis-py's default pool, which raises
  ``MaxConnectionsError`` when a command finds all of its connections (100 in redis-py 8) in
  use. ``blocking:N`` (the default, ``blocking:100``): a client on a
  ``BlockingConnectionPool`` of N connections, where such a command waits for one instead.
"""

from __future__ import annotations

import os

from redis.asyncio import BlockingConnectionPool, Redis

from bench.apps.realtime_app import create_app
from realtime.backends.redis import RedisBackend

__all__ = ["POOL_WAIT", "app"]

POOL_WAIT = 10.0
"""Seconds a command waits for a connection of a blocking pool, then fails."""


def _backend() -> RedisBackend:
    url = os.environ["BENCH_REDIS_URL"]
    prefix = os.environ.get("BENCH_REDIS_PREFIX", "rt")
    pool = os.environ.get("BENCH_REDIS_POOL", "blocking:100")
    if pool == "library":
        return RedisBackend(url, prefix=prefix)
    kind, _, size = pool.partition(":")
    if kind != "blocking" or not size.isdigit():
        raise ValueError(f"BENCH_REDIS_POOL: 'library' or 'blocking:N', not {pool!r}")
    connections = BlockingConnectionPool.from_url(url, max_connections=int(size), timeout=POOL_WAIT)
    return RedisBackend(url, prefix=prefix, client=Redis(connection_pool=connections))


app = create_app(_backend())
