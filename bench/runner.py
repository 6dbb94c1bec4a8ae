"""Rounds of measurements, interleaved: in each round every scenario runs every system, in
an order that rotates from round to round, then every cluster scenario (scale-out) runs every
deployment, in a rotating order too. Each measurement gets fresh server processes."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bench.cluster import Cluster, Deployment
from bench.scenarios import ClusterScenario, Scenario
from bench.scenarios.common import Result
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.systems import not_available

__all__ = ["Record", "measure", "measure_cluster", "run_rounds"]

Record = dict[str, Any]
BENIGN_LOG = ("timeout graceful shutdown exceeded",)
"""Server log lines that are no finding: the harness stops servers with clients attached."""


class _Server(Protocol):
    def start(self) -> None: ...
    async def wait_ready(self, timeout: float = ...) -> None: ...
    def cpus_allowed(self) -> str: ...
    def stop(self) -> None: ...
    def log_tail(self) -> str: ...
    def close(self) -> None: ...


async def _measured(
    record: Record, server: _Server, work: Callable[[], Awaitable[Result]], settings: Settings
) -> Record:
    """Start ``server``, run ``work`` on it, stop it; errors become the record."""
    started = time.perf_counter()
    # The load generator's own garbage collections would pause its clients mid-measurement:
    # collect now, and not again until the measurement is over.
    gc.collect()
    gc.disable()
    try:
        server.start()
        await server.wait_ready()
        record["server_cpus"] = server.cpus_allowed()
        async with asyncio.timeout(settings.measurement_timeout):
            record["metrics"] = await work()
        record["status"] = "ok"
    except Exception as exc:  # any failure is this system's result, never the run's end
        record["status"] = "error"
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        gc.enable()
        server.stop()
        log = "\n".join(
            line
            for line in server.log_tail().splitlines()
            if not any(benign in line for benign in BENIGN_LOG)
        )
        server.close()
    if log:
        record["server_log"] = log
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


async def measure(scenario: Scenario, system: str, round_: int, settings: Settings) -> Record:
    """One scenario for one system on a server of its own; errors become the record."""
    record: Record = {"scenario": scenario.key, "system": system, "round": round_}
    reason = not_available(system, scenario.transport)
    if reason is not None:
        return {**record, "status": "n/a", "reason": reason}
    server = ServerProcess(system, settings.cores[0])
    return await _measured(record, server, lambda: scenario.run(system, server, settings), settings)


async def measure_cluster(
    scenario: ClusterScenario, deployment: Deployment, round_: int, settings: Settings
) -> Record:
    """One cluster scenario on one deployment of its own; errors become the record."""
    record: Record = {"scenario": scenario.key, "system": deployment.key, "round": round_}
    cluster = Cluster(deployment, settings.cores[0], settings.redis_connections)
    return await _measured(
        record, cluster, lambda: scenario.run(deployment, cluster, settings), settings
    )


async def run_rounds(
    settings: Settings,
    scenarios: Sequence[Scenario],
    systems: Sequence[str],
    on_record: Callable[[Record], None],
    clusters: Sequence[ClusterScenario] = (),
) -> list[Record]:
    records: list[Record] = []
    for round_ in range(settings.rounds):
        for scenario in scenarios:
            shift = round_ % len(systems)
            for system in [*systems[shift:], *systems[:shift]]:
                record = await measure(scenario, system, round_, settings)
                records.append(record)
                on_record(record)
        for cluster in clusters:
            deployments = cluster.deployments
            shift = round_ % len(deployments)
            for deployment in [*deployments[shift:], *deployments[:shift]]:
                record = await measure_cluster(cluster, deployment, round_, settings)
                records.append(record)
                on_record(record)
    return records
