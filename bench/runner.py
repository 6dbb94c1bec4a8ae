"""Rounds of measurements, interleaved: in each round every scenario runs every system, in
an order that rotates from round to round. Each measurement gets a fresh server process."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.scenarios import Scenario
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.systems import not_available

__all__ = ["Record", "measure", "run_rounds"]

Record = dict[str, Any]
BENIGN_LOG = ("timeout graceful shutdown exceeded",)
"""Server log lines that are no finding: the harness stops servers with clients attached."""


async def measure(scenario: Scenario, system: str, round_: int, settings: Settings) -> Record:
    """One scenario for one system on a server of its own; errors become the record."""
    record: Record = {"scenario": scenario.key, "system": system, "round": round_}
    reason = not_available(system, scenario.transport)
    if reason is not None:
        return {**record, "status": "n/a", "reason": reason}
    started = time.perf_counter()
    server = ServerProcess(system, settings.cores[0])
    # The load generator's own garbage collections would pause its clients mid-measurement:
    # collect now, and not again until the measurement is over.
    gc.collect()
    gc.disable()
    try:
        server.start()
        await server.wait_ready()
        record["server_cpus"] = server.cpus_allowed()
        async with asyncio.timeout(settings.measurement_timeout):
            record["metrics"] = await scenario.run(system, server, settings)
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


async def run_rounds(
    settings: Settings,
    scenarios: Sequence[Scenario],
    systems: Sequence[str],
    on_record: Callable[[Record], None],
) -> list[Record]:
    records: list[Record] = []
    for round_ in range(settings.rounds):
        for scenario in scenarios:
            shift = round_ % len(systems)
            for system in [*systems[shift:], *systems[:shift]]:
                record = await measure(scenario, system, round_, settings)
                records.append(record)
                on_record(record)
    return records
