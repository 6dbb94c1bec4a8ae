"""Upkeep of the Redis backend's keys: their TTLs pushed back while sessions are served, and a
warning when Redis may evict them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from realtime.backends.redis.codec import text

__all__ = ["REFRESH_BATCH", "REFRESH_PERIOD", "refresh_keys", "warn_if_redis_may_evict"]

logger = logging.getLogger("realtime.backends.redis")

REFRESH_PERIOD = 60.0
"""Seconds (at most; a quarter of ``key_ttl`` if less) between two refreshes of the TTL of
the keys of the sessions a process serves."""
REFRESH_BATCH = 500
"""Sessions per refresh script."""


async def refresh_keys(
    script: AsyncScript, prefix: str, node: str, sessions: Iterable[str], key_ttl: float
) -> list[str]:
    """Push back the TTL of the keys of ``sessions`` (and of their rooms' keys, and of the
    process's own sets) to ``key_ttl``: the ``refresh`` script, per batch of sessions.
    Return the sessions whose keys are gone."""
    ordered = sorted(sessions)
    ttl = round(key_ttl * 1000)
    gone: list[str] = []
    for start in range(0, max(len(ordered), 1), REFRESH_BATCH):
        batch = ordered[start : start + REFRESH_BATCH]
        gone += [text(sid) for sid in await script(keys=[], args=[prefix, ttl, node, *batch])]
    return gone


async def warn_if_redis_may_evict(client: Redis) -> None:
    """Warn when Redis may evict keys: a session would then lose its state silently."""
    try:
        answer = await client.config_get("maxmemory*")
    except RedisError:
        return  # CONFIG is often disabled on managed Redis: nothing to tell
    config = {text(name): text(value) for name, value in answer.items()}
    policy, maxmemory = config.get("maxmemory-policy", ""), int(config.get("maxmemory") or 0)
    if maxmemory and policy != "noeviction":
        logger.warning(
            "Redis has maxmemory %d with maxmemory-policy %s: it may evict the backend's keys "
            "(every session key has a TTL), which ends sessions without a word; use "
            "maxmemory-policy noeviction",
            maxmemory,
            policy,
        )
