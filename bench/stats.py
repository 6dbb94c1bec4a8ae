"""Percentiles and the per-phase probe (wall time, server CPU, load generator CPU, requests)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.loadgen.http import Counter
from bench.servers import CLOCK_TICKS

__all__ = ["CPUSource", "Probe", "Window", "median", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine_busy_seconds() -> float:
    """CPU time every process of the machine spent so far (all cores, not idle or iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


class CPUSource(Protocol):
    """The server side of a measurement: a server process, or a whole cluster."""

    def cpu_seconds(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Window:
    """What one measured phase cost."""

    wall: float
    server_cpu: float
    loadgen_cpu: float
    machine_cpu: float
    requests: int

    @property
    def loadgen_busy(self) -> float:
        """Share of the phase the load generator spent on CPU (near 1: it was the limit)."""
        return self.loadgen_cpu / self.wall if self.wall else 0.0

    @property
    def server_busy(self) -> float:
        """Share of the phase the server spent on CPU (near 1: the server was the limit)."""
        return self.server_cpu / self.wall if self.wall else 0.0

    @property
    def others_busy(self) -> float:
        """CPU used by other processes of the machine, in cores (noise when above ~0.05)."""
        others = self.machine_cpu - self.server_cpu - self.loadgen_cpu
        return max(0.0, others / self.wall) if self.wall else 0.0

    def figures(self) -> dict[str, float]:
        """The busy shares; ``others_busy`` only over a second or more (ticks are 10 ms)."""
        figures = {"server_busy": self.server_busy, "loadgen_busy": self.loadgen_busy}
        if self.wall >= 1.0:
            figures["others_busy"] = self.others_busy
        return figures


class Probe:
    """Snapshot at start; :meth:`stop` returns the :class:`Window` since then."""

    def __init__(self, server: CPUSource, counter: Counter) -> None:
        self.server = server
        self.counter = counter
        self.wall = time.perf_counter()
        self.server_cpu = server.cpu_seconds()
        self.loadgen_cpu = time.process_time()
        self.machine_cpu = machine_busy_seconds()
        self.requests = counter.requests

    def stop(self) -> Window:
        return Window(
            wall=time.perf_counter() - self.wall,
            server_cpu=self.server.cpu_seconds() - self.server_cpu,
            loadgen_cpu=time.process_time() - self.loadgen_cpu,
            machine_cpu=machine_busy_seconds() - self.machine_cpu,
            requests=self.counter.requests - self.requests,
        )
