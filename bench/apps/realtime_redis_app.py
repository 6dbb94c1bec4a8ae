"""realtime on Redis: the app of ``bench.apps.realtime_app`` with a :class:`RedisBackend`.

Set by the scale-out scenario for each node, in the environment:

- ``BENCH_REDIS_URL``: where Redis is, e.g. ``redis://127.0.0.1:6379/0``;
- ``BENCH_REDIS_PREFIX``: the prefix of every key;
- ``BENCH_REDIS_CONNECTIONS``: the backend's ``max_connections`` (default 100).
"""

from __future__ import annotations

import os

from bench.apps.realtime_app import create_app
from realtime.backends.redis import RedisBackend

__all__ = ["app"]


def _backend() -> RedisBackend:
    url = os.environ["BENCH_REDIS_URL"]
    prefix = os.environ.get("BENCH_REDIS_PREFIX", "rt")
    connections = int(os.environ.get("BENCH_REDIS_CONNECTIONS", "100"))
    return RedisBackend(url, prefix=prefix, max_connections=connections)


app = create_app(_backend())
