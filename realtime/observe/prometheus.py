"""Prometheus metrics for realtime, as one collector of ``prometheus_client`` (the
``[prometheus]`` extra)::

    from prometheus_client import make_asgi_app
    from realtime.observe.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics()              # registers itself in prometheus_client.REGISTRY
    realtime = RealtimeApp(handler, metrics=metrics)
    metrics.track(realtime)                    # + the realtime_connections gauge
    routes = [Mount("/realtime", realtime), Mount("/metrics", make_asgi_app())]
    app = Starlette(routes=routes, lifespan=realtime.lifespan)

- ``realtime_negotiations_total{status}``: negotiations answered, by HTTP status (200: a
  new session), and ``realtime_negotiation_seconds``, how long they took (a histogram);
- ``realtime_sessions_opened_total{transport}``, ``..._resumed_total{transport}`` (a
  reconnection, a change of transport), ``..._closed_total{transport,code}`` and
  ``..._expired_total`` (no connection for ``session_ttl``);
- ``realtime_fallbacks_total{transport,to,reason}``: transports that clients gave up, and why;
- ``realtime_connect_seconds{transport}``: from a connection's request to its attachment;
- ``realtime_publishes_total``, ``realtime_publish_deliveries_total`` (the sessions they
  reached) and ``realtime_publish_seconds`` (a histogram);
- ``realtime_connections{transport}``: this process's open connections (after :meth:`track`).

Each process counts its own events: sum them over processes in your queries. Label values
come from small fixed sets (a client cannot invent new ones); rooms, users and session ids
are never labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from realtime.observe import Event, Recorder
from realtime.types import TRANSPORT_NAMES, TransportName

Counts = Callable[[], Mapping[TransportName, int]]

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["PrometheusMetrics"]

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PrometheusMetrics(Recorder, Collector):
    """The metrics hook and the Prometheus collector in one: pass it as
    ``RealtimeApp(metrics=...)``; the registry scrapes it.

    Args:
        registry: Where to register; None to register it yourself (``registry.register``).
        namespace: The metric names' prefix.
        buckets: The histograms' buckets, in seconds.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        namespace: str = "realtime",
        buckets: Sequence[float] = SECONDS,
    ) -> None:
        self.namespace = namespace

        def counter(name: str, text: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, text, labels, namespace=namespace, registry=None)

        def histogram(name: str, text: str, labels: Sequence[str] = ()) -> Histogram:
            return Histogram(
                name, text, labels, namespace=namespace, buckets=buckets, registry=None
            )

        self.negotiations = counter("negotiations", "Negotiations answered", ["status"])
        self.negotiation_seconds = histogram("negotiation_seconds", "Negotiation time")
        self.opened = counter("sessions_opened", "First connections of sessions", ["transport"])
        self.resumed = counter("sessions_resumed", "Later connections of sessions", ["transport"])
        self.closed = counter("sessions_closed", "Sessions ended", ["transport", "code"])
        self.expired = counter("sessions_expired", "Sessions expired without a connection")
        self.fallbacks = counter(
            "fallbacks", "Transports given up by clients", ["transport", "to", "reason"]
        )
        self.connect_seconds = histogram(
            "connect_seconds", "From a connection's request to its attachment", ["transport"]
        )
        self.publishes = counter("publishes", "Publishes to rooms")
        self.deliveries = counter("publish_deliveries", "Sessions that publishes reached")
        self.publish_seconds = histogram("publish_seconds", "Publish time")
        self._metrics = (
            self.negotiations,
            self.negotiation_seconds,
            self.opened,
            self.resumed,
            self.closed,
            self.expired,
            self.fallbacks,
            self.connect_seconds,
            self.publishes,
            self.deliveries,
            self.publish_seconds,
        )
        self._connections: Counts | None = None
        if registry is not None:
            registry.register(self)

    def track(self, app: RealtimeApp) -> None:
        """Report ``app.connections()``, the app's open connections by transport, as the
        ``realtime_connections`` gauge at every scrape."""
        self._connections = app.connections

    # -- The metrics hook -----------------------------------------------------------------

    def record(self, event: Event) -> None:
        labels, duration = event.labels, event.duration
        if event.name == "session.negotiated":
            self.negotiations.labels(labels["status"]).inc()
            if duration is not None:
                self.negotiation_seconds.observe(duration)
        elif event.name in ("session.opened", "session.resumed"):
            counter = self.opened if event.name == "session.opened" else self.resumed
            counter.labels(labels["transport"]).inc()
            if duration is not None:
                self.connect_seconds.labels(labels["transport"]).observe(duration)
        elif event.name == "session.closed":
            self.closed.labels(labels["transport"], labels["code"]).inc()
        elif event.name == "session.expired":
            self.expired.inc()
        elif event.name == "transport.fallback":
            self.fallbacks.labels(labels["transport"], labels["to"], labels["reason"]).inc()
        elif event.name == "room.published":
            self.publishes.inc()
            recipients = event.details.get("recipients", 0)
            self.deliveries.inc(recipients if isinstance(recipients, int) else 0)
            if duration is not None:
                self.publish_seconds.observe(duration)

    # -- The collector --------------------------------------------------------------------

    def _gauge(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"{self.namespace}_connections", "Open connections", labels=["transport"]
        )

    def describe(self) -> Iterable[Metric]:
        for metric in self._metrics:
            yield from metric.describe()
        yield self._gauge()

    def collect(self) -> Iterable[Metric]:
        for metric in self._metrics:
            yield from metric.collect()
        if self._connections is not None:
            counts = self._read_connections(self._connections)
            gauge = self._gauge()
            for transport in TRANSPORT_NAMES:
                gauge.add_metric([transport], counts.get(transport, 0))
            yield gauge

    @staticmethod
    def _read_connections(read: Counts) -> Mapping[TransportName, int]:
        # A scrape may run in another thread (prometheus_client.start_http_server) while the
        # event loop adds a connection: the set then changes size under the count. Try again.
        for _ in range(3):
            try:
                return dict(read())
            except RuntimeError:
                continue
        return {}
