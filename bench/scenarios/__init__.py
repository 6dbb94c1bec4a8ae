"""The scenarios, in the order they run in each round, and the metrics each reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from bench.cluster import DEPLOYMENTS, Cluster, Deployment
from bench.scenarios.burst import burst
from bench.scenarios.common import Result, ScenarioError
from bench.scenarios.echo import echo
from bench.scenarios.fanout import fanout
from bench.scenarios.idle import idle
from bench.scenarios.scaleout import scaleout
from bench.scenarios.ttfm import ttfm
from bench.servers import ServerProcess
from bench.settings import Settings

__all__ = ["SCALEOUT", "SCENARIOS", "ClusterScenario", "Metric", "Scenario", "ScenarioError"]

Run = Callable[[str, ServerProcess, Settings], Awaitable[Result]]
ClusterRun = Callable[[Deployment, Cluster, Settings], Awaitable[Result]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    transport: str | None
    """The transport whose absence makes a system "n/a" (None: every system runs it)."""
    run: Run
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class ClusterScenario:
    """A scenario that compares deployments of realtime (bench.cluster), not systems."""

    key: str
    title: str
    run: ClusterRun
    metrics: tuple[Metric, ...]
    deployments: tuple[Deployment, ...]
    reference: str
    """The deployment every ratio is to."""


P50 = Metric("p50_ms", "p50 latency (ms)", False)
P99 = Metric("p99_ms", "p99 latency (ms)", False)
ECHO = (
    Metric("msgs_per_s", "round trips/s", True),
    P50,
    P99,
    Metric("cpu_us_per_msg", "server CPU per round trip (µs)", False),
)
FANOUT = (
    Metric("deliveries_per_s", "deliveries/s", True),
    P50,
    P99,
    Metric("http_requests", "HTTP requests", False),
    Metric("cpu_us_per_delivery", "server CPU per delivery (µs)", False),
)
IDLE = (Metric("kib_per_session", "memory per session (KiB)", False),)
TTFM = (Metric("ttfm_ms", "time to first message (ms)", False),)

SCENARIOS = (
    Scenario("echo_ws", "WebSocket echo", "websocket", echo, ECHO),
    Scenario(
        "fanout_ws",
        "Fan-out, WebSocket",
        "websocket",
        partial(fanout, transport="websocket"),
        FANOUT,
    ),
    Scenario("fanout_sse", "Fan-out, SSE", "sse", partial(fanout, transport="sse"), FANOUT),
    Scenario(
        "fanout_longpoll",
        "Fan-out, long-polling",
        "longpoll",
        partial(fanout, transport="longpoll"),
        FANOUT,
    ),
    Scenario(
        "burst_ws",
        "Burst fan-out, WebSocket",
        "websocket",
        partial(burst, transport="websocket"),
        FANOUT,
    ),
    Scenario("burst_sse", "Burst fan-out, SSE", "sse", partial(burst, transport="sse"), FANOUT),
    Scenario("idle_ws", "Idle, WebSocket", "websocket", partial(idle, transport="websocket"), IDLE),
    Scenario("idle_sse", "Idle, SSE", "sse", partial(idle, transport="sse"), IDLE),
    Scenario(
        "idle_longpoll", "Idle, long-polling", "longpoll", partial(idle, transport="longpoll"), IDLE
    ),
    Scenario(
        "ttfm_ws_blocked", "First message, WS blocked", None, partial(ttfm, buffered=False), TTFM
    ),
    Scenario(
        "ttfm_sse_buffered",
        "First message, WS blocked + SSE buffered",
        None,
        partial(ttfm, buffered=True),
        TTFM,
    ),
)

SCALEOUT_METRICS = (
    Metric("deliveries_per_s", "deliveries/s", True),
    P50,
    P99,
    Metric("ws_p99_ms", "p99 latency, WebSocket (ms)", False),
    Metric("sse_p99_ms", "p99 latency, SSE (ms)", False),
    Metric("longpoll_p99_ms", "p99 latency, long-polling (ms)", False),
    Metric("cpu_us_per_delivery", "server CPU per delivery, nodes + redis-server (µs)", False),
    Metric("redis_cpu_us_per_delivery", "… of which redis-server (µs)", False),
    Metric("nginx_cpu_us_per_delivery", "nginx CPU per delivery (µs)", False),
    Metric("http_requests", "HTTP requests", False),
    Metric("redis_bytes_per_session", "Redis memory per session (bytes)", False),
    Metric("open_s", "opening the sessions (s)", False),
)
SCALEOUT = ClusterScenario(
    "scaleout", "Scale-out", scaleout, SCALEOUT_METRICS, DEPLOYMENTS, reference="memory-1"
)
