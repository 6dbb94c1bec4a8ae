from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend


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
