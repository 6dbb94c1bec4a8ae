"""Heartbeats keep idle connections alive through a proxy with a short idle timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import realtime.client
from tests.servers import free_port, nginx, wait_for_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

IDLE_TIMEOUT = 1  # seconds; heartbeat_app pings every 0.2 s and polls time out after 0.5 s


@pytest.fixture(scope="module")
def impatient_proxy(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx in front of the test server, cutting connections idle for a second."""
    port = free_port()
    config = f"""
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass {server};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_read_timeout {IDLE_TIMEOUT}s;
      proxy_send_timeout {IDLE_TIMEOUT}s;
    }}
  }}"""
    with nginx(config, tmp_path_factory.mktemp("nginx")):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"


async def test_idle_connection_survives_a_proxy_idle_timeout(
    impatient_proxy: str, transport: str
) -> None:
    url = f"{impatient_proxy}/heartbeat"
    async with realtime.client.connect(url, transport=transport) as conn:
        await conn.send("hello")
        assert await asyncio.wait_for(conn.receive(), 10) == "hello"
        await asyncio.sleep(3 * IDLE_TIMEOUT)  # idle, as far as the application is concerned
        assert conn.last_disconnect is None  # the connection never dropped
        assert conn.reconnects == 0
        await conn.send("still there")
        assert await asyncio.wait_for(conn.receive(), 10) == "still there"


async def test_without_heartbeats_the_proxy_cuts_idle_streams(impatient_proxy: str) -> None:
    """The control: the same proxy does cut a stream that stays silent (the echo mount pings
    only every 20 s), so the test above proves something."""
    async with realtime.client.connect(f"{impatient_proxy}/echo", transport="sse") as conn:
        async with asyncio.timeout(10):
            while conn.last_disconnect is None:
                await asyncio.sleep(0.05)
        await conn.send("resumed")
        assert await asyncio.wait_for(conn.receive(), 10) == "resumed"
