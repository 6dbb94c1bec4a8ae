from __future__ import annotations

import os

import pytest

MS = float(os.environ.get("REALTIME_TEST_MS", "0.001"))
"""The unit of time in I/O tests; raise REALTIME_TEST_MS on a slow machine."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
