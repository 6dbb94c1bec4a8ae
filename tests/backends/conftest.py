from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from realtime.backends.base import Backend
from realtime.backends.memory import MemoryBackend

BackendFactory = Callable[[], Backend]


@pytest.fixture(params=["memory"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Every backend implementation, started; the contract tests run once per backend."""
    instance: Backend = MemoryBackend()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
