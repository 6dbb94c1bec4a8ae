"""realtime.observe.prometheus against the real prometheus_client: a real uvicorn serves a
realtime mount and prometheus_client's own /metrics app; a real client falls back, resumes
and closes through a FaultProxy; the scrape says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Mount

import realtime.client
from realtime import RealtimeApp, Session
from realtime.observe import Observer
from realtime.observe.prometheus import PrometheusMetrics
from realtime.testing import FAST_RETRY, FaultProxy
from realtime.types import SessionId
from tests.servers import port_of, uvicorn_server


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape's samples, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def site() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    rt = RealtimeApp(echo, metrics=metrics, session_ttl=2)
    metrics.track(rt)
    routes = [Mount("/rt", rt), Mount("/metrics", make_asgi_app(registry))]
    with uvicorn_server(Starlette(routes=routes, lifespan=rt.lifespan)) as url:
        yield url, registry


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/metrics/")
    assert response.status_code == 200
    return samples(response.text)


async def wait_for(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> None:
    async with asyncio.timeout(10):
        while not registry.get_sample_value(name, labels):
            await asyncio.sleep(0.01)


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_session_counted_from_fallback_to_close(
    site: tuple[str, CollectorRegistry],
) -> None:
    url, registry = site
    async with FaultProxy(port_of(url)) as proxy:
        proxy.reject_websockets = True  # the client falls back to SSE
        async with realtime.client.connect(proxy.url("/rt"), **FAST_RETRY) as conn:
            await conn.send("one")
            assert await asyncio.wait_for(conn.receive(), 10) == "one"
            during = await scrape(url)
            proxy.cut()
            await conn.send("two")
            assert await asyncio.wait_for(conn.receive(), 10) == "two"
    await wait_for(registry, "realtime_sessions_closed_total", {"transport": "sse", "code": "1000"})
    after = await scrape(url)

    sse = frozenset({("transport", "sse")})
    assert during[("realtime_connections", sse)] == 1
    assert during[("realtime_connections", frozenset({("transport", "websocket")}))] == 0
    assert after[("realtime_connections", sse)] == 0
    assert after[("realtime_sessions_opened_total", sse)] == 1
    assert after[("realtime_sessions_resumed_total", sse)] >= 1  # after the cut
    fallback = {("transport", "websocket"), ("to", "sse"), ("reason", "open")}
    assert after[("realtime_fallbacks_total", frozenset(fallback))] == 1
    closed = frozenset({("transport", "sse"), ("code", "1000")})
    assert after[("realtime_sessions_closed_total", closed)] == 1
    assert after[("realtime_negotiations_total", frozenset({("status", "200")}))] == 1


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_session_that_never_connects_expires(site: tuple[str, CollectorRegistry]) -> None:
    url, registry = site
    async with httpx.AsyncClient(headers={"origin": url}) as http:
        response = await http.post(f"{url}/rt/negotiate", json={"v": 1})
    assert response.status_code == 200
    await wait_for(registry, "realtime_sessions_expired_total", {})  # session_ttl=2
    assert registry.get_sample_value("realtime_sessions_expired_total") == 1


def test_negotiations_and_publishes_with_their_durations() -> None:
    registry = CollectorRegistry()
    observer = Observer(PrometheusMetrics(registry))
    observer.negotiated(SessionId("s1"), transports=("websocket", "sse"), started=0.0)
    observer.negotiated(None, status=401, error="authentication required")
    observer.published("lobby", recipients=3, size=5)
    observer.published("lobby", recipients=0, size=5, started=0.0)
    value = registry.get_sample_value
    assert value("realtime_negotiations_total", {"status": "200"}) == 1
    assert value("realtime_negotiations_total", {"status": "401"}) == 1
    assert value("realtime_negotiation_seconds_count") == 1  # only one was timed
    assert value("realtime_publishes_total") == 2
    assert value("realtime_publish_deliveries_total") == 3
    assert value("realtime_publish_seconds_count") == 1


def test_names_are_reserved_in_the_registry() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PrometheusMetrics(registry)
    PrometheusMetrics(registry, namespace="chat")  # another prefix, no clash
    assert registry.get_sample_value("chat_sessions_expired_total") == 0
