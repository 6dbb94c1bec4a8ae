"""WebSocket echo: concurrent clients, each sending one message and awaiting its echo, in a
loop, for ``echo_seconds`` (at most ``echo_max_round_trips`` each). Measures round trips
per second, round-trip latency and server CPU per round trip."""

from __future__ import annotations

import asyncio
import time

from bench.loadgen.base import Client
from bench.scenarios.common import Result, ScenarioError, phase, sessions, target_of
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.stats import Probe, percentile

__all__ = ["echo"]

FILLER = "x" * 40


async def _round_trips(
    client: Client, tag: int, count: int, seconds: float, latencies: list[float]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    for i in range(count):
        if time.perf_counter() > deadline:
            break
        payload = f"{tag} {i} {FILLER}"
        future: asyncio.Future[str] = loop.create_future()
        client.sink = future.set_result
        start = time.perf_counter()
        await client.send(payload)
        echoed = await future
        latencies.append(time.perf_counter() - start)
        if echoed != payload:
            raise ScenarioError(f"echo mismatch: sent {payload!r}, got {echoed!r}")


async def echo(system: str, server: ServerProcess, settings: Settings) -> Result:
    target = target_of(server)
    async with sessions(system, "websocket", target, settings.echo_clients, settings) as clients:

        async def run_all(count: int, seconds: float, latencies: list[float]) -> None:
            work = asyncio.gather(
                *(_round_trips(c, i, count, seconds, latencies) for i, c in enumerate(clients))
            )
            await phase(target, work, seconds + settings.phase_timeout, "the echo round trips")

        await run_all(settings.echo_warmup, settings.echo_seconds, [])
        latencies: list[float] = []
        probe = Probe(server, target.counter)
        await run_all(settings.echo_max_round_trips, settings.echo_seconds, latencies)
        window = probe.stop()
    messages = len(latencies)
    return {
        "msgs_per_s": messages / window.wall,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "cpu_us_per_msg": window.server_cpu / messages * 1e6,
        "messages": messages,
        **window.figures(),
    }
