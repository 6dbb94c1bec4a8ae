from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import redis_server

MS = float(os.environ.get("REALTIME_TEST_MS", "0.001"))
"""The unit of time in I/O tests; raise REALTIME_TEST_MS on a slow machine."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 for the whole test run (no persistence)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _process):
        yield url
