from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.app import build_app
from tests.servers import uvicorn_server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The security test app, with default limits on ``/limited``."""
    with uvicorn_server(build_app()) as url:
        yield url
