"""What the Redis backend leaves in Redis: a TTL on every key of a session from its creation,
caps that do not count sessions whose keys are gone, and a warning when Redis may evict."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator

import pytest

from realtime.backends.base import SessionInfo
from realtime.backends.redis import RedisBackend
from realtime.types import SessionId
from tests.backends.test_contract import Probe

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

INDEXES = {"waiting", "closing", "closed", "all", "nodes", "G"}
"""Keys shared by every session, without a TTL (never evicted by volatile-* policies): each
session's entry in them is removed by the reaper, or at the cap once the session is gone."""


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisBackend]:
    instance = RedisBackend(redis_url, prefix=f"keys-{secrets.token_hex(4)}")
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


def info_for(client: str) -> SessionInfo:
    return SessionInfo(SessionId(secrets.token_urlsafe(8)), "0" * 64, 0.0, client=client)


async def test_every_key_of_a_session_has_a_ttl_from_its_creation(backend: RedisBackend) -> None:
    info = info_for("10.0.0.7")
    assert await backend.create(info, 1.0) == "created"
    prefix = backend.prefix
    assert await backend.client.pttl(f"{prefix}:o:{info.id}") > 0  # both streams exist already
    assert await backend.client.pttl(f"{prefix}:i:{info.id}") > 0
    await backend.attach(info.id, Probe(), "websocket", 0, 1.0)
    assert await backend.claim_handler(info.id) == "start"
    await backend.join(info.id, "lobby")
    waiting = info_for("10.0.0.8")  # a member without a connection
    assert await backend.create(waiting, 1.0) == "created"
    await backend.join(waiting.id, "lobby")
    joined_first = info_for("10.0.0.9")  # in the room before it attaches
    assert await backend.create(joined_first, 1.0) == "created"
    await backend.join(joined_first.id, "hall")
    await backend.attach(joined_first.id, Probe(), "sse", 0, 1.0)
    await backend.leave(joined_first.id, "hall")  # a past membership (rh) ...
    await backend.join(joined_first.id, "hall")  # ... and a current one (ri)
    await backend.push(info.id, "hello", 5, 0)
    await backend.deliver(info.id, 1, "hi", 2, 1.0)
    await backend.publish("lobby", "news", 4)
    keys = [key.decode() async for key in backend.client.scan_iter(f"{prefix}:*")]
    without_ttl = {
        key
        for key in keys
        if await backend.client.pttl(key) < 0
        and key.removeprefix(f"{prefix}:") not in INDEXES
        and not key.startswith(f"{prefix}:client:")
    }
    assert without_ttl == set()
    room_keys = {f"{prefix}:{kind}:lobby" for kind in ("room", "log", "rn", "rw")}
    assert {f"{prefix}:s:{info.id}", f"{prefix}:r:{info.id}", f"{prefix}:rn:hall"} <= set(keys)
    assert {f"{prefix}:ri:{joined_first.id}", f"{prefix}:rh:{joined_first.id}"} <= set(keys)
    assert room_keys <= set(keys)


async def test_a_cap_does_not_count_sessions_whose_keys_are_gone(backend: RedisBackend) -> None:
    address = "10.0.0.8"
    created = [info_for(address) for _ in range(3)]
    for info in created:
        assert await backend.create(info, 1.0, max_per_client=3) == "created"
    assert await backend.create(info_for(address), 1.0, max_per_client=3) == "client full"
    for info in created:  # evicted by Redis (or expired by their TTL): hash, streams and all
        await backend.client.delete(*(f"{backend.prefix}:{k}:{info.id}" for k in "soir"))
    assert await backend.create(info_for(address), 1.0, max_per_client=3) == "created"
    assert await backend.count(address) == 1
    assert await backend.create(info_for("10.0.0.9"), 1.0, max_sessions=2) == "created"
    assert await backend.count() == 2  # the gone ones were dropped when the cap was reached


async def test_the_reaper_drops_waiting_sessions_whose_keys_are_gone(
    backend: RedisBackend,
) -> None:
    info = info_for("10.0.0.10")
    await backend.create(info, 1.0)
    await backend.client.delete(f"{backend.prefix}:s:{info.id}")
    assert await backend.count() == 1
    assert await backend.expire(100.0, ttl=30.0) == []
    assert await backend.count() == 0


async def test_start_warns_when_redis_may_evict_keys(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    probe = RedisBackend(redis_url, prefix=f"keys-{secrets.token_hex(4)}")
    await probe.start()
    client = probe.client
    before = await client.config_get("maxmemory*")
    try:
        for policy, warned in (
            ("noeviction", False),
            ("volatile-lru", True),
            ("allkeys-lru", True),
        ):
            await client.config_set("maxmemory", "1gb")
            await client.config_set("maxmemory-policy", policy)
            caplog.clear()
            backend = RedisBackend(redis_url, prefix=f"keys-{secrets.token_hex(4)}")
            with caplog.at_level(logging.WARNING, logger="realtime.backends.redis"):
                await backend.start()
            await backend.stop()
            assert any("maxmemory-policy" in r.getMessage() for r in caplog.records) is warned
    finally:
        await client.config_set("maxmemory", before["maxmemory"] or "0")
        await client.config_set("maxmemory-policy", before["maxmemory-policy"] or "noeviction")
        await probe.stop()
