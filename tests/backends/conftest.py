from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend

if TYPE_CHECKING:
    from realtime.backends.redis import RedisBackend


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Every backend implementation, started; the contract tests run once per backend."""
    instance: Backend
    if request.param == "redis":
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        instance = RedisBackend(url, prefix=f"test-{secrets.token_hex(4)}")
    else:
        instance = MemoryBackend()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[RedisBackend, RedisBackend]]:
    """Two processes' backends (two RedisBackend instances) sharing one Redis and prefix."""
    from realtime.backends.redis import RedisBackend

    prefix = f"test-{secrets.token_hex(4)}"
    first, second = RedisBackend(redis_url, prefix=prefix), RedisBackend(redis_url, prefix=prefix)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()
