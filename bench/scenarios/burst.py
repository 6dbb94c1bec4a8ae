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
from bench.scenarios.common import Result, ScenarioError
from bench.scenarios.fanout import Deliveries, measure_fanout
from bench.servers import ServerProcess
from bench.settings import Settings

__all__ = ["burst"]


async def _burst(trigger: HTTPConnection, state: Deliveries, start: int, stop: int) -> None:
    """Ask for broadcasts ``start`` to ``stop`` (exclusive) in one burst; return once every
    session has them all."""
    count = stop - start
    response = await trigger.request("POST", "/bench/burst", f"{start} {count}".encode())
    if response.status != 200:
        raise ScenarioError(f"burst: HTTP {response.status} {response.body[:200]!r}")
    queued = state.sessions * count
    if response.body != str(queued).encode():
        raise ScenarioError(f"the burst was queued {response.body!r} times, not {queued}")
    await state.wait_complete(stop)


async def burst(system: str, server: ServerProcess, settings: Settings, transport: str) -> Result:
    count = settings.burst_sessions[transport]
    return await measure_fanout(
        system, server, settings, transport, count, settings.burst_broadcasts, _burst
    )
