from __future__ import annotations

import logging
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


@pytest.fixture(autouse=True)
def no_unexpected_errors(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fail a test during which realtime logged an error, unless it is marked
    ``expected_errors``: the clients resume after most failures, so a crash in a server task
    would otherwise go unnoticed."""
    caplog.set_level(logging.ERROR, logger="realtime")
    yield
    if request.node.get_closest_marker("expected_errors"):
        return
    errors = [
        record
        for record in caplog.get_records("call") + caplog.get_records("teardown")
        if record.levelno >= logging.ERROR and record.name.startswith("realtime")
    ]
    if errors:
        details = "\n".join(f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in errors)
        pytest.fail(f"realtime logged errors during the test:\n{details}", pytrace=False)
