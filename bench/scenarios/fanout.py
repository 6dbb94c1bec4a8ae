"""Fan-out: N sessions on one transport, every one in the broadcast room; B broadcasts, each
triggered by ``POST /bench/broadcast`` whose body carries its index and send time.

Each client checks that it gets every broadcast, once, in order, and records the delivery
latency (arrival minus the send time written by the trigger, same process and clock). At
most ``broadcast_window`` broadcasts are outstanding (not yet delivered to every session).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench.loadgen.http import HTTPConnection
from bench.scenarios.common import (
    Result,
    ScenarioError,
    phase,
    sessions,
    target_of,
    wait_count,
)
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.stats import Probe, percentile

__all__ = ["Deliveries", "Work", "fanout", "measure_fanout", "send_broadcasts"]

FILLER = "x" * 40


class Deliveries:
    """Counts deliveries per broadcast; ``complete`` broadcasts reached every session."""

    def __init__(self, sessions: int, total: int, warmup: int) -> None:
        self.sessions = sessions
        self.warmup = warmup
        self.counts = [0] * total
        self.complete = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.progress = asyncio.Event()

    def receiver(self, index: int) -> Callable[[str], None]:
        expected = 0

        def receive(payload: str) -> None:
            nonlocal expected
            now = time.perf_counter()
            number, sent, _ = payload.split(" ", 2)
            i = int(number)
            if i != expected:
                self.errors.append(f"session {index} got broadcast {i}, expected {expected}")
            expected = i + 1
            if i >= self.warmup:
                self.latencies.append(now - float(sent))
            count = self.counts[i] = self.counts[i] + 1
            if count == self.sessions:
                # Each session gets broadcasts in order, so they complete in order.
                self.complete += 1
                self.progress.set()

        return receive

    async def wait_complete(self, count: int) -> None:
        while self.complete < count:
            self.progress.clear()
            await self.progress.wait()


async def send_broadcasts(
    trigger: HTTPConnection,
    state: Deliveries,
    start: int,
    stop: int,
    window: int,
    queued: int | None = None,
) -> None:
    """Broadcasts ``start`` to ``stop`` (exclusive), at most ``window`` outstanding; return
    once every session has them all. ``queued``: the count each trigger must answer."""
    for i in range(start, stop):
        if i - state.complete >= window:
            await state.wait_complete(i - window + 1)
        body = f"{i} {time.perf_counter()!r} {FILLER}".encode()
        response = await trigger.request("POST", "/bench/broadcast", body)
        if response.status != 200:
            raise ScenarioError(f"trigger: HTTP {response.status} {response.body[:200]!r}")
        if queued is not None and response.body != str(queued).encode():
            raise ScenarioError(f"broadcast {i} queued for {response.body!r}, not {queued}")
    await state.wait_complete(stop)


Work = Callable[[HTTPConnection, Deliveries, int, int], Awaitable[None]]
"""``work(trigger, state, start, stop)``: have broadcasts ``start`` to ``stop`` (exclusive)
sent, and return once every session has them all."""


async def fanout(system: str, server: ServerProcess, settings: Settings, transport: str) -> Result:
    window = settings.broadcast_window

    def paced(trigger: HTTPConnection, state: Deliveries, start: int, stop: int) -> Awaitable[None]:
        return send_broadcasts(trigger, state, start, stop, window)

    sessions_count = settings.fanout_sessions[transport]
    return await measure_fanout(
        system, server, settings, transport, sessions_count, settings.broadcasts, paced
    )


async def measure_fanout(
    system: str,
    server: ServerProcess,
    settings: Settings,
    transport: str,
    count: int,
    size: int,
    work: Work,
) -> Result:
    """The harness of the fan-outs, paced and burst: ``count`` sessions on ``transport`` in
    the room, a paced warm-up, then ``size`` broadcasts sent by ``work``, measured."""
    target = target_of(server)
    warmup = settings.broadcast_warmup
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
                await phase(
                    target, work(trigger, state, warmup, warmup + size), limit, "the broadcasts"
                )
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
