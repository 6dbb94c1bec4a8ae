"""A pytest plugin with the ``realtime_client`` fixture. In a ``conftest.py``::

    pytest_plugins = ["realtime.testing.plugin"]

    async def test_echo(realtime_client) -> None:
        async with realtime_client(app, "/realtime", transport="longpoll") as conn:
            await conn.send("hi")
            assert await conn.receive() == "hi"

The fixture is :func:`realtime.testing.connect`, plus cleanup: every client it opened is
closed when the test ends, even one the test left open. Tests that use it are async (run
them with anyio's or pytest-asyncio's plugin).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime.testing.inprocess import Clients

__all__ = ["realtime_client"]


@pytest.fixture
async def realtime_client() -> AsyncIterator[Clients]:
    """``realtime_client(app, path="/realtime", **options)``: see
    :func:`realtime.testing.connect`."""
    clients = Clients()
    yield clients
    await clients.aclose()
