"""The server side of a scale-out measurement: realtime nodes, redis-server and nginx.

A :class:`Deployment` says which system, how many nodes (uvicorn processes) and on which
backend: realtime in memory (``bench.apps.realtime_app``) or on Redis
(``bench.apps.realtime_redis_app``), or python-socketio on its ``AsyncRedisManager``
(``bench.apps.socketio_redis_app``), every Redis deployment on one redis-server. nginx balances them
round-robin, without affinity, as docs/how-to/scaling.md configures it; it stands in front of
every deployment, the one-node ones included, so that the deployments differ only by their
backend and their number of nodes.

Everything here runs on the server core: the nodes under ``taskset -c <core>``; redis-server
and nginx are started (by ``tests.servers``) while this thread runs on that core, so they and
every thread and worker they start inherit it. Each process is stopped by its own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen.http import HTTPConnection
from bench.servers import ServerProcess, cpu_seconds, cpus_allowed
from tests.servers import balancer, free_port, nginx, redis_server, wait_for_port

__all__ = ["DEPLOYMENTS", "Cluster", "Deployment", "NodeHolds"]

MEMORY_APP = "bench.apps.realtime_app:app"
REDIS_APP = "bench.apps.realtime_redis_app:app"
SOCKETIO_REDIS_APP = "bench.apps.socketio_redis_app:app"
REDIS_PREFIX = "bench"
WORKER_CONNECTIONS = 8192
NGINX_LOG_TAIL = 2000


@dataclass(frozen=True)
class Deployment:
    key: str
    label: str
    nodes: int
    redis: bool
    system: str = "realtime"

    @property
    def app(self) -> str:
        if self.system == "socketio":
            return SOCKETIO_REDIS_APP
        return REDIS_APP if self.redis else MEMORY_APP


DEPLOYMENTS = (
    Deployment("memory-1", "memory, 1 node", 1, redis=False),
    Deployment("redis-1", "Redis, 1 node", 1, redis=True),
    Deployment("redis-2", "Redis, 2 nodes", 2, redis=True),
    Deployment("socketio-1", "python-socketio on Redis, 1 node", 1, True, "socketio"),
    Deployment("socketio-2", "python-socketio on Redis, 2 nodes", 2, True, "socketio"),
)


@dataclass(frozen=True)
class NodeHolds:
    """What one node holds (``GET /bench/node``): handlers, requests in flight by type."""

    handlers: int
    websocket: int
    http: int


@contextlib.contextmanager
def _on_core(core: int) -> Iterator[None]:
    """Run this thread on ``core`` meanwhile: the processes it starts inherit that core."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _all_threads_cpus(pid: int) -> str:
    """The cores of every thread of ``pid`` (``taskset`` sets only the one it is given)."""
    cores = set()
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            cores.add(cpus_allowed(int(task)))
    return ",".join(sorted(cores)) or "?"


class Cluster:
    """Start with :meth:`start` and :meth:`wait_ready`; clients go to ``127.0.0.1:port``."""

    def __init__(self, deployment: Deployment, core: int, redis_connections: int) -> None:
        self.deployment = deployment
        self.core = core
        self.redis_connections = redis_connections
        self.port = 0
        """nginx's port: the one address of the cluster."""
        self.redis_url = ""
        self.nodes: list[ServerProcess] = []
        self._directory = tempfile.TemporaryDirectory(prefix="bench-scaleout-")
        self._stack = contextlib.ExitStack()
        self._redis_pid: int | None = None
        self._nginx_pid: int | None = None

    @property
    def directory(self) -> Path:
        return Path(self._directory.name)

    def start(self) -> None:
        env: dict[str, str] = {}
        if self.deployment.redis:
            with _on_core(self.core):
                url, process = self._stack.enter_context(redis_server(self.directory / "redis"))
            self.redis_url, self._redis_pid = url, process.pid
            env = {
                "BENCH_REDIS_URL": url,
                "BENCH_REDIS_PREFIX": REDIS_PREFIX,
                "BENCH_REDIS_CONNECTIONS": str(self.redis_connections),
            }
        for _ in range(self.deployment.nodes):
            node = ServerProcess(
                self.deployment.system, self.core, app=self.deployment.app, env=env
            )
            self.nodes.append(node)
            node.start()
        self.port = free_port()
        config = balancer(self.port, [f"127.0.0.1:{node.port}" for node in self.nodes])
        with _on_core(self.core):
            process = self._stack.enter_context(
                nginx(config, self.directory / "nginx", worker_connections=WORKER_CONNECTIONS)
            )
        self._nginx_pid = process.pid

    async def wait_ready(self, timeout: float = 20.0) -> None:
        for node in self.nodes:
            await node.wait_ready(timeout)
        await asyncio.to_thread(wait_for_port, self.port, timeout)

    # -- What the harness reads -----------------------------------------------------------

    def _nginx_pids(self) -> list[int]:
        if self._nginx_pid is None:
            return []
        return [self._nginx_pid, *_children(self._nginx_pid)]

    def cpu_breakdown(self) -> dict[str, float]:
        """CPU seconds so far of the nodes (together), redis-server and nginx (its workers
        included)."""
        return {
            "nodes": sum(node.cpu_seconds() for node in self.nodes),
            "redis": cpu_seconds(self._redis_pid) if self._redis_pid is not None else 0.0,
            "nginx": sum(cpu_seconds(pid) for pid in self._nginx_pids()),
        }

    def cpu_seconds(self) -> float:
        """CPU seconds so far of every process of the server side (all on the server core)."""
        return sum(self.cpu_breakdown().values())

    def cpus_allowed(self) -> str:
        places = [f"node{i} {node.cpus_allowed()}" for i, node in enumerate(self.nodes)]
        if self._redis_pid is not None:
            places.append(f"redis-server {_all_threads_cpus(self._redis_pid)}")
        places.append(f"nginx {','.join(_all_threads_cpus(p) for p in self._nginx_pids())}")
        return "; ".join(places)

    async def holds(self) -> list[NodeHolds]:
        """What each node holds, asked of each node directly (not through nginx)."""
        holds = []
        for node in self.nodes:
            http = HTTPConnection("127.0.0.1", node.port)
            try:
                response = await asyncio.wait_for(http.request("GET", "/bench/node"), 5.0)
            finally:
                http.close()
            held = json.loads(response.body)
            holds.append(NodeHolds(held["handlers"], held["websocket"], held["http"]))
        return holds

    def log_tail(self) -> str:
        logs = [node.log_tail() for node in self.nodes]
        error_log = self.directory / "nginx" / "logs" / "error.log"
        with contextlib.suppress(OSError):
            logs.append(error_log.read_text(errors="replace")[-NGINX_LOG_TAIL:].strip())
        return "\n".join(log for log in logs if log)

    # -- Stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        """The nodes first (SIGTERM to all, then wait), then nginx, then redis-server."""
        for node in self.nodes:
            node.terminate()
        for node in self.nodes:
            node.stop()
        self._stack.close()

    def close(self) -> None:
        self.stop()
        for node in self.nodes:
            node.close()
        self._directory.cleanup()
