"""Burst fan-out: N sessions on one transport, every one in the broadcast room; one
``POST /bench/burst`` has the server publish B broadcasts back to back, in one loop, with
nothing waiting in between: no window, no trigger per message.

Each broadcast carries its index and the server's ``time.perf_counter()`` when it was
published (CLOCK_MONOTONIC, which the load generator shares on Linux). Each client checks that
it gets every broadcast, once, in order, and records the delivery latency (arrival minus that
time): a system that queues the whole burst before writing shows it in its first messages.
"""

from __future__ import annotations

from bench.loadgen.http import HTTPConnection
from bench.scenarios.common import Result, ScenarioError, phase, sessions, target_of, wait_count
from bench.scenarios.fanout import Deliveries, send_broadcasts
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.stats import Probe, percentile

__all__ = ["burst"]


async def _burst(trigger: HTTPConnection, state: Deliveries, start: int, count: int) -> None:
    """Ask for broadcasts ``start`` to ``start + count`` in one burst; return once every
    session has them all."""
    response = await trigger.request("POST", "/bench/burst", f"{start} {count}".encode())
    if response.status != 200:
        raise ScenarioError(f"burst: HTTP {response.status} {response.body[:200]!r}")
    queued = state.sessions * count
    if response.body != str(queued).encode():
        raise ScenarioError(f"the burst was queued {response.body!r} times, not {queued}")
    await state.wait_complete(start + count)


async def burst(system: str, server: ServerProcess, settings: Settings, transport: str) -> Result:
    target = target_of(server)
    count = settings.burst_sessions[transport]
    warmup, size = settings.broadcast_warmup, settings.burst_broadcasts
    state = Deliveries(count, warmup + size, warmup)
    trigger = HTTPConnection(target.host, target.port)  # its requests are not counted
    limit = settings.phase_timeout
    try:
        async with sessions(system, transport, target, count, settings, state.receiver):
            await wait_count(target, count, limit)
            window = settings.broadcast_window
            await phase(
                target, send_broadcasts(trigger, state, 0, warmup, window), limit, "warm-up"
            )
            probe = Probe(server, target.counter)
            try:
                await phase(target, _burst(trigger, state, warmup, size), limit, "the burst")
            except ScenarioError as exc:
                delivered = sum(state.counts[warmup:])
                raise ScenarioError(f"{exc}; {delivered}/{count * size} delivered") from None
            measured = probe.stop()
    finally:
        trigger.close()
    if state.errors:
        raise ScenarioError(f"{len(state.errors)} out-of-order deliveries: {state.errors[0]}")
    deliveries = len(state.latencies)
    if deliveries != count * size:
        raise ScenarioError(f"{deliveries} deliveries, expected {count * size}")
    return {
        "deliveries_per_s": deliveries / measured.wall,
        "p50_ms": percentile(state.latencies, 0.5) * 1e3,
        "p99_ms": percentile(state.latencies, 0.99) * 1e3,
        "http_requests": measured.requests,
        "cpu_us_per_delivery": measured.server_cpu / deliveries * 1e6,
        "sessions": count,
        "broadcasts": size,
        **measured.figures(),
    }
