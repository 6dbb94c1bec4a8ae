from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.app import app
from tests.servers import uvicorn_server

TRANSPORTS = ["websocket", "sse", "longpoll"]


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A real uvicorn serving tests/integration/app.py; yields ``http://127.0.0.1:PORT``."""
    with uvicorn_server(app) as url:
        yield url


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
