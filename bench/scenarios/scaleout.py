"""Scale-out: the fan-out's broadcasts on a cluster (bench.cluster) of 1 or 2 nodes, realtime
in memory or on Redis, or python-socketio on its AsyncRedisManager, behind nginx round-robin
without affinity.

Sessions of every transport at once (``scaleout_sessions``: WebSocket, SSE, long-polling), all
in one room, opened through nginx: a session negotiates on one node and attaches on whichever
node nginx picks next, and every later request of an SSE or long-polling session (acks,
polls) may land on yet another. python-socketio needs sticky sessions for its polling
transport, so its sessions are all WebSockets (as many as realtime's sessions of every
transport together). Broadcasts are triggered by ``POST /bench/broadcast`` through
nginx too, so on 3 nodes consecutive broadcasts are published from different nodes, and reach
the sessions held by the others through Redis.

Checked, or the measurement is an error: each trigger answers that its broadcast was queued
for every session of the room (over all nodes); every session gets every broadcast once and
in order (bench.scenarios.fanout's ``Deliveries``) with no gap in realtime's numbering; every
session's handler runs on exactly one node; with several nodes, each holds handlers and
WebSockets. Measured: deliveries/s, delivery latency overall and per transport, CPU per
delivery of the nodes, redis-server and nginx, Redis commands per publish (``INFO
commandstats``, scripts' own commands included), and Redis's memory per session (``MEMORY
USAGE`` of the keys before the sessions open and once all have joined the room).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bench.cluster import REDIS_PREFIX, Cluster, Deployment
from bench.loadgen.base import Sink, Target
from bench.loadgen.http import HTTPConnection
from bench.scenarios.common import Result, ScenarioError, phase, sessions, wait_count
from bench.scenarios.fanout import Deliveries, send_broadcasts
from bench.settings import Settings
from bench.stats import Probe, percentile

__all__ = ["CALLS", "SHORT", "scaleout"]

SHORT = {"websocket": "ws", "sse": "sse", "longpoll": "longpoll"}
"""Prefix of the per-transport figures."""
CALLS = "redis_calls_"
"""Prefix of the figures of Redis commands per delivery."""


class RedisProbe:
    """What Redis holds and does, read through a connection of the harness's own."""

    def __init__(self, url: str) -> None:
        self.client = Redis.from_url(url)

    async def key_bytes(self) -> int:
        """``MEMORY USAGE`` summed over the keys of the nodes (the app's prefix)."""
        keys = [key async for key in self.client.scan_iter(f"{REDIS_PREFIX}:*", count=1000)]
        total = 0
        for start in range(0, len(keys), 500):
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys[start : start + 500]:
                    pipe.memory_usage(key, samples=0)
                total += sum(size or 0 for size in await pipe.execute())
        return total

    async def connections(self) -> tuple[int, int]:
        """The nodes' connections (all clients but this one) and all clients' buffers."""
        clients = await self.client.info("clients")
        memory = await self.client.info("memory")
        return int(clients["connected_clients"]) - 1, int(memory["mem_clients_normal"])

    async def calls(self) -> dict[str, int]:
        """Commands run so far, by name (those run by scripts included)."""
        stats = await self.client.info("commandstats")
        return {key.removeprefix("cmdstat_"): int(value["calls"]) for key, value in stats.items()}

    async def close(self) -> None:
        await self.client.aclose()


def _per_delivery(before: dict[str, int], after: dict[str, int], deliveries: int) -> Result:
    """``redis_calls_<command>``: the commands of a phase per delivery, those at least 0.05
    (the harness's own INFO excluded)."""
    rates: Result = {}
    for name in sorted(after):
        rate = (after[name] - before.get(name, 0)) / deliveries
        if name != "info" and rate >= 0.05:
            rates[f"{CALLS}{name}"] = rate
    return rates


def _sinks(
    state: Deliveries, offset: int, latencies: list[float]
) -> Callable[[int], Callable[[str], None]]:
    """Sinks for one transport's sessions (numbered from ``offset`` among all sessions) that
    also keep that transport's latencies apart."""

    def sink(index: int) -> Sink:
        receive = state.receiver(offset + index)

        def record(payload: str) -> None:
            before = len(state.latencies)
            receive(payload)
            if len(state.latencies) > before:
                latencies.append(state.latencies[-1])

        return record

    return sink


def _spread(values: list[int]) -> str:
    return "/".join(str(v) for v in values)


async def scaleout(deployment: Deployment, cluster: Cluster, settings: Settings) -> Result:
    target = Target("127.0.0.1", cluster.port)
    counts = {t: n for t, n in settings.scaleout_sessions.items() if n > 0}
    total = sum(counts.values())
    system = deployment.system
    if system == "socketio":
        counts = {"websocket": total}
    warmup, end = (
        settings.broadcast_warmup,
        settings.broadcast_warmup + settings.scaleout_broadcasts,
    )
    state = Deliveries(total, end, warmup)
    latencies: dict[str, list[float]] = {t: [] for t in counts}
    limit = settings.phase_timeout
    figures: Result = {}
    trigger = HTTPConnection(target.host, target.port)  # its requests are not counted
    redis = RedisProbe(cluster.redis_url) if deployment.redis else None
    try:
        keys_before = await redis.key_bytes() if redis else 0
        async with contextlib.AsyncExitStack() as stack:
            opening = time.perf_counter()
            offset = 0
            for transport, count in counts.items():
                sink = _sinks(state, offset, latencies[transport])
                await stack.enter_async_context(
                    sessions(system, transport, target, count, settings, sink)
                )
                offset += count
            await wait_count(target, total, limit)
            figures["open_s"] = time.perf_counter() - opening
            if redis:
                keys_after = await redis.key_bytes()
                figures["redis_bytes_per_session"] = (keys_after - keys_before) / total
            holds = await cluster.holds()
            handlers = [h.handlers for h in holds]
            websockets = [h.websocket for h in holds]
            if sum(handlers) != total:
                raise ScenarioError(f"{sum(handlers)} handlers run on the nodes, not {total}")
            if len(holds) > 1 and (min(handlers) == 0 or min(websockets) == 0):
                raise ScenarioError(
                    f"sessions not spread over the nodes: handlers {_spread(handlers)}, "
                    f"websockets {_spread(websockets)}"
                )
            figures["handlers_per_node"] = _spread(handlers)
            figures["websockets_per_node"] = _spread(websockets)
            figures["streams_and_polls_per_node"] = _spread([h.http for h in holds])
            figures["handlers_node_min"], figures["handlers_node_max"] = (
                min(handlers),
                max(handlers),
            )
            window = settings.broadcast_window
            warm = send_broadcasts(trigger, state, 0, warmup, window, queued=total)
            await phase(target, warm, limit, "warm-up")
            calls_before = await redis.calls() if redis else {}
            cpu_before = cluster.cpu_breakdown()
            probe = Probe(cluster, target.counter)
            work = send_broadcasts(trigger, state, warmup, end, window, queued=total)
            try:
                await phase(target, work, limit, "the broadcasts")
            except ScenarioError as exc:
                delivered = sum(state.counts[warmup:])
                expected = total * settings.scaleout_broadcasts
                raise ScenarioError(f"{exc}; {delivered}/{expected} delivered") from None
            measured = probe.stop()
            cpu_after = cluster.cpu_breakdown()
            if redis:
                deliveries = total * settings.scaleout_broadcasts
                calls_after = await redis.calls()
                figures.update(_per_delivery(calls_before, calls_after, deliveries))
                commands = sum(
                    calls_after[name] - calls_before.get(name, 0)
                    for name in calls_after
                    if name != "info"
                )
                figures["redis_commands_per_publish"] = commands / settings.scaleout_broadcasts
                connections, buffers = await redis.connections()
                figures["redis_connections"] = connections
                figures["redis_client_buffers_kib"] = buffers / 1024
    finally:
        trigger.close()
        if redis:
            await redis.close()
    if state.errors:
        raise ScenarioError(f"{len(state.errors)} out-of-order deliveries: {state.errors[0]}")
    deliveries = len(state.latencies)
    if deliveries != total * settings.scaleout_broadcasts:
        raise ScenarioError(
            f"{deliveries} deliveries, expected {total * settings.scaleout_broadcasts}"
        )
    cpu = {key: cpu_after[key] - cpu_before[key] for key in cpu_after}
    per_delivery = 1e6 / deliveries
    result: Result = {
        "deliveries_per_s": deliveries / measured.wall,
        "p50_ms": percentile(state.latencies, 0.5) * 1e3,
        "p99_ms": percentile(state.latencies, 0.99) * 1e3,
    }
    for transport, values in latencies.items():
        result[f"{SHORT[transport]}_p50_ms"] = percentile(values, 0.5) * 1e3
        result[f"{SHORT[transport]}_p99_ms"] = percentile(values, 0.99) * 1e3
    result.update(
        {
            "cpu_us_per_delivery": (cpu["nodes"] + cpu["redis"]) * per_delivery,
            "node_cpu_us_per_delivery": cpu["nodes"] * per_delivery,
            "nginx_cpu_us_per_delivery": cpu["nginx"] * per_delivery,
            "http_requests": measured.requests,
            **figures,
            "sessions": total,
            "broadcasts": settings.scaleout_broadcasts,
            "nodes": deployment.nodes,
            **measured.figures(),
        }
    )
    if deployment.redis:
        result["redis_cpu_us_per_delivery"] = cpu["redis"] * per_delivery
    return result
