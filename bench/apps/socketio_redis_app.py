"""python-socketio on Redis (``AsyncRedisManager``): the peer of realtime on Redis in the
scale-out scenario, one app per node, every node on one redis-server.

The app of ``bench.apps.socketio_app`` with a client manager that carries each emit to every
node over Redis pub/sub (one PUBLISH per emit, whatever the room's size; each node fans out to
its own connections). ``/bench/count`` and the broadcast's answer count the room over all
nodes: every node keeps its connections in one Redis set (SADD at connect, SREM at
disconnect, one SCARD per broadcast: the only commands the bench adds to the manager's).

Set in the environment by the scale-out scenario: ``BENCH_REDIS_URL``, ``BENCH_REDIS_PREFIX``.
"""

from __future__ import annotations

import os

import socketio
from redis.asyncio import Redis

from bench.apps.socketio_app import Members, create_app

__all__ = ["app"]

URL = os.environ["BENCH_REDIS_URL"]
MEMBERS = f"{os.environ.get('BENCH_REDIS_PREFIX', 'bench')}:socketio:members"


class RedisMembers(Members):
    """The room's members over every node: one Redis set."""

    def __init__(self, redis: Redis, key: str) -> None:
        super().__init__()
        self.redis, self.key = redis, key

    async def add(self, sid: str) -> None:
        await super().add(sid)
        await self.redis.sadd(self.key, sid)

    async def remove(self, sid: str) -> None:
        await super().remove(sid)
        await self.redis.srem(self.key, sid)

    async def count(self) -> int:
        return int(await self.redis.scard(self.key))


sio = socketio.AsyncServer(
    async_mode="asgi", client_manager=socketio.AsyncRedisManager(URL, channel="bench-socketio")
)
app = create_app(sio, RedisMembers(Redis.from_url(URL), MEMBERS))
