"""realtime.observe.otel against the real OpenTelemetry SDK: spans of a session that a real
client opens on a real uvicorn, through a FaultProxy that makes it fall back and resume, land
in the SDK's InMemorySpanExporter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from starlette.applications import Starlette
from starlette.routing import Mount

import realtime.client
from realtime import RealtimeApp, Session
from realtime.observe import Observer
from realtime.observe.otel import OpenTelemetrySpans
from realtime.testing import FAST_RETRY, FaultProxy
from realtime.types import SessionId
from tests.servers import port_of, uvicorn_server


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> OpenTelemetrySpans:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetrySpans(provider)


@pytest.fixture
def server(spans: OpenTelemetrySpans) -> Iterator[str]:
    rt = RealtimeApp(echo, metrics=spans)
    with uvicorn_server(Starlette(routes=[Mount("/rt", rt)], lifespan=rt.lifespan)) as url:
        yield url


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


@pytest.mark.integration
@pytest.mark.anyio
async def test_connect_resume_and_close_spans(server: str, exporter: InMemorySpanExporter) -> None:
    async with FaultProxy(port_of(server)) as proxy:
        proxy.reject_websockets = True
        async with realtime.client.connect(proxy.url("/rt"), **FAST_RETRY) as conn:
            await conn.send("one")
            assert await asyncio.wait_for(conn.receive(), 10) == "one"
            proxy.cut()
            await conn.send("two")
            assert await asyncio.wait_for(conn.receive(), 10) == "two"
            session_id = conn.session_id
    async with asyncio.timeout(10):
        while not named(exporter, "realtime.close"):
            await asyncio.sleep(0.01)

    (negotiate,) = named(exporter, "realtime.negotiate")
    assert negotiate.attributes is not None
    assert negotiate.attributes["realtime.session_id"] == session_id
    (connect,) = named(exporter, "realtime.connect")
    assert connect.attributes is not None
    assert connect.attributes["realtime.session_id"] == session_id
    assert connect.attributes["realtime.transport"] == "sse"
    assert connect.attributes["realtime.fallback"] == "websocket:open"
    assert connect.attributes["client.address"] == "127.0.0.1"
    resumes = named(exporter, "realtime.resume")
    assert resumes
    for resume in resumes:
        assert resume.attributes is not None
        assert resume.attributes["realtime.session_id"] == session_id
    (close,) = named(exporter, "realtime.close")
    assert close.attributes == {
        "realtime.session_id": session_id,
        "realtime.transport": "sse",
        "realtime.close.code": 1000,
        "realtime.close.reason": "",
    }
    assert close.status.status_code == StatusCode.UNSET
    assert connect.end_time is not None and close.start_time is not None
    assert connect.end_time <= close.start_time


def test_negotiate_and_publish_spans_carry_their_durations(
    spans: OpenTelemetrySpans, exporter: InMemorySpanExporter
) -> None:
    observer = Observer(spans)
    started = time.perf_counter()
    time.sleep(0.01)
    offered = ("websocket", "sse")
    observer.negotiated(SessionId("s1"), transports=offered, user="ada", started=started)
    observer.negotiated(None, status=503, error="too many sessions: try again later")
    observer.published("lobby", recipients=2, size=5, started=started)
    ok, refused = named(exporter, "realtime.negotiate")
    assert ok.attributes == {
        "realtime.session_id": "s1",
        "user.id": "ada",
        "http.response.status_code": 200,
        "realtime.transports": ("websocket", "sse"),
    }
    assert ok.start_time is not None and ok.end_time is not None
    assert ok.start_time < ok.end_time  # it started when the server said it did
    assert refused.status.status_code == StatusCode.ERROR
    assert refused.start_time == refused.end_time  # not timed
    assert refused.attributes is not None
    assert refused.attributes["realtime.error"] == "too many sessions: try again later"
    (publish,) = named(exporter, "realtime.publish")
    assert publish.attributes == {
        "realtime.room": "lobby",
        "realtime.recipients": 2,
        "realtime.message.size": 5,
    }


def test_a_handler_crash_is_an_error_span(
    spans: OpenTelemetrySpans, exporter: InMemorySpanExporter
) -> None:
    observer = Observer(spans)
    observer.closed(SessionId("s1"), "websocket", 1011, "internal error", user={"id": 7})
    observer.expired(SessionId("s2"))
    (close,) = named(exporter, "realtime.close")
    assert close.status.status_code == StatusCode.ERROR
    assert close.attributes is not None and close.attributes["user.id"] == "7"
    (expire,) = named(exporter, "realtime.expire")
    assert expire.attributes == {"realtime.session_id": "s2"}
