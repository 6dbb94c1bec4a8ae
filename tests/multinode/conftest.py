"""A test cluster: redis-server, three uvicorn nodes in their own processes, and nginx
balancing them round-robin without any affinity. All on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    balancer,
    die_with_parent,
    free_port,
    nginx,
    redis_server,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]
NODES = 3


class Cluster:
    def __init__(self, directory: Path, nodes: int = NODES, **env: str) -> None:
        self.directory = directory
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self._redis: contextlib.ExitStack | None = None
        self.prefix = f"mn-{secrets.token_hex(4)}"
        self.env = env
        """More environment of the nodes (see tests.multinode.node)."""
        self.ports = [free_port() for _ in range(nodes)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.node_ids: list[str] = [""] * nodes
        self.url = ""
        """The balancer's URL; the realtime mount is at ``{url}/rt``."""

    def direct(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def start(self, index: int) -> None:
        env = {
            **os.environ,
            **self.env,
            "REALTIME_REDIS_URL": self.redis_url,
            "REALTIME_PREFIX": self.prefix,
        }
        log = open(self.directory / f"node{index}.log", "ab")  # the process inherits it
        self.processes[index] = subprocess.Popen(
            [sys.executable, "-m", "tests.multinode.node", "--port", str(self.ports[index])],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()
        wait_for_port(self.ports[index])
        self.node_ids[index] = httpx.get(f"{self.direct(index)}/node", timeout=10).json()["node"]

    def kill(self, index: int) -> None:
        """SIGKILL: the node dies without a word, as a crashed machine does."""
        self._stop(index, signal.SIGKILL)

    def terminate(self, index: int) -> None:
        """SIGTERM: a graceful shutdown (the node drains its connections first)."""
        self._stop(index, signal.SIGTERM)

    def _stop(self, index: int, how: signal.Signals) -> None:
        process = self.processes[index]
        if process is None:
            return
        process.send_signal(how)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        self.processes[index] = None

    def start_redis(self) -> None:
        """Start redis-server without persistence: it starts empty every time."""
        stack = contextlib.ExitStack()
        stack.enter_context(redis_server(self.directory / "redis", port=self.redis_port))
        self._redis = stack

    def stop_redis(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    def index_of(self, node_id: str) -> int:
        return self.node_ids.index(node_id)

    def ensure_all_running(self) -> None:
        for index in range(len(self.ports)):
            if self.processes[index] is None:
                self.start(index)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        cluster = Cluster(tmp_path_factory.mktemp("cluster"))
        cluster.start_redis()
        stack.callback(cluster.stop_redis)
        for index in range(NODES):
            stack.callback(cluster.terminate, index)
        cluster.ensure_all_running()
        port = free_port()
        upstreams = [
            f"127.0.0.1:{node_port} max_fails=1 fail_timeout=1s" for node_port in cluster.ports
        ]
        config = balancer(port, upstreams)
        stack.enter_context(nginx(config, cluster.directory / "nginx", worker_connections=4096))
        wait_for_port(port)
        cluster.url = f"http://127.0.0.1:{port}"
        yield cluster


@pytest.fixture
def running(cluster: Cluster) -> Cluster:
    """The cluster with all three nodes up (a previous test may have stopped one)."""
    cluster.ensure_all_running()
    return cluster
