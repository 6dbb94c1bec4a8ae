"""OpenTelemetry spans for realtime (the ``[otel]`` extra: ``opentelemetry-api``; bring the
SDK and an exporter of your choice)::

    from realtime.observe.otel import OpenTelemetrySpans

    realtime = RealtimeApp(handler, metrics=OpenTelemetrySpans())   # the global provider

One span per step, named:

- ``realtime.negotiate``: a negotiation, with ``http.response.status_code`` (200, or the
  refusal's status, with ``realtime.error``) and the ``realtime.transports`` offered;
- ``realtime.connect``: a session's first connection (``realtime.transport``,
  ``client.address``, and ``realtime.fallback``, e.g. ``websocket:open``, when the client
  gave a transport up before);
- ``realtime.resume``: a later connection (a reconnection, a change of transport);
- ``realtime.publish``: ``hub.publish`` to ``realtime.room``, reaching
  ``realtime.recipients`` sessions, ``realtime.message.size`` bytes;
- ``realtime.close``: the session ended, with ``realtime.close.code`` and
  ``realtime.close.reason`` (status ERROR for 1011, the handler raised);
- ``realtime.expire``: the session waited ``session_ttl`` for a connection.

Every span of a session carries ``realtime.session_id`` (and ``user.id`` when the
``authenticate`` hook gave one), to find them together. The server reports a step once it is
over, so spans get the step's measured start and end times; their parent is the span current
at that moment: the request's, under an ASGI instrumentation such as
``opentelemetry-instrumentation-asgi``, or yours around a ``hub.publish``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from realtime.observe import Event, Recorder

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

__all__ = ["SPAN_NAMES", "OpenTelemetrySpans"]

SPAN_NAMES: Mapping[str, str] = {
    "session.negotiated": "realtime.negotiate",
    "session.opened": "realtime.connect",
    "session.resumed": "realtime.resume",
    "room.published": "realtime.publish",
    "session.closed": "realtime.close",
    "session.expired": "realtime.expire",
}
"""The span of each metrics event; ``transport.fallback`` has none: it is the
``realtime.fallback`` attribute of the connection's span."""

INTERNAL_ERROR = 1011

ATTRIBUTES = {
    "client": "client.address",
    "fallback": "realtime.fallback",
    "reason": "realtime.close.reason",
    "room": "realtime.room",
    "recipients": "realtime.recipients",
    "size": "realtime.message.size",
    "error": "realtime.error",
}


def _attributes(event: Event) -> dict[str, AttributeValue]:
    found: dict[str, AttributeValue] = {}
    if event.session_id is not None:
        found["realtime.session_id"] = event.session_id
    if event.user is not None:
        found["user.id"] = event.user
    if transport := event.labels.get("transport"):
        found["realtime.transport"] = transport
    if "status" in event.labels:
        found["http.response.status_code"] = int(event.labels["status"])
    if "code" in event.labels:
        found["realtime.close.code"] = int(event.labels["code"])
    for key, value in event.details.items():
        if key == "transports":
            found["realtime.transports"] = [name for name in str(value).split(",") if name]
        elif key in ATTRIBUTES:
            found[ATTRIBUTES[key]] = value
    return found


def _failed(event: Event) -> bool:
    if event.name == "session.negotiated":
        return int(event.labels["status"]) >= 500
    return event.name == "session.closed" and event.labels.get("code") == str(INTERNAL_ERROR)


class OpenTelemetrySpans(Recorder):
    """The metrics hook that turns realtime's events into OpenTelemetry spans.

    Args:
        tracer_provider: Where spans go; None for the global one
            (``opentelemetry.trace.set_tracer_provider``).
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        from realtime import __version__

        self.tracer = trace.get_tracer("realtime", __version__, tracer_provider=tracer_provider)

    def record(self, event: Event) -> None:
        name = SPAN_NAMES.get(event.name)
        if name is None:
            return
        end = int(event.time * 1e9)
        start = end - int(event.duration * 1e9) if event.duration is not None else end
        span = self.tracer.start_span(name, start_time=start, attributes=_attributes(event))
        if _failed(event):
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)
