from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from realtime.backends.base import Backend
from tests.integration.app import build_app
from tests.servers import uvicorn_server

TRANSPORTS = ["websocket", "sse", "longpoll"]


@pytest.fixture(scope="session", params=["memory", "redis"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real uvicorn serving tests/integration/app.py, its sessions in memory or in a real
    Redis (every integration test runs on both); yields ``http://127.0.0.1:PORT``."""

    def backend() -> Backend | None:
        if request.param == "memory":
            return None
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        return RedisBackend(url, prefix=f"it-{secrets.token_hex(4)}")

    with uvicorn_server(build_app(backend)) as url:
        yield url


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
