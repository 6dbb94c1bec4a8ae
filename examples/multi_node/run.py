"""The chat on three nodes sharing Redis, behind nginx round-robin: one command.

    python -m examples.multi_node [--port 8000]

Starts, on 127.0.0.1 only: a redis-server without persistence, three uvicorn processes
running examples/chat on the Redis backend, and nginx balancing them round-robin with no
session affinity. Open http://127.0.0.1:8000 in two browsers: each request of each session
may land on any node. Stop one node (its pid is printed) and watch the chat carry on. Ctrl+C
stops everything this script started.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODES = 3

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path tmp_body; proxy_temp_path tmp_proxy; fastcgi_temp_path tmp_fastcgi;
  uwsgi_temp_path tmp_uwsgi; scgi_temp_path tmp_scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream chat {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;        # WebSocket
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;              # the Origin check compares with Host
      proxy_buffering off;                           # SSE and long-polls pass at once
      proxy_read_timeout 60s;                        # > ping_interval and poll_timeout
    }}
  }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def die_with_parent() -> None:
    """The children get SIGTERM if this script dies without cleaning up (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise SystemExit(f"{name} is not installed (Debian: apt-get install redis-server nginx)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the balancer's port")
    port = parser.parse_args().port
    work = Path(tempfile.mkdtemp(prefix="realtime-multi-node-"))
    (work / "logs").mkdir()
    processes: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        processes.append(process)
        return process

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)  # even when started in the background (SIGINT ignored)
    signal.signal(signal.SIGTERM, stop)

    try:
        redis_port = free_port()
        redis = f"--bind 127.0.0.1 --port {redis_port} --save '' --appendonly no --dir {work}"
        start([binary("redis-server"), *shlex.split(redis)])
        wait_for_port(redis_port)
        env = {"REALTIME_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "PATH": "/usr/bin:/bin"}
        node_ports = [free_port() for _ in range(NODES)]
        for node_port in node_ports:
            node = f"-m uvicorn examples.chat.app:app --host 127.0.0.1 --port {node_port}"
            node += " --log-level warning --timeout-graceful-shutdown 5"
            pid = start([sys.executable, *node.split()], env).pid
            print(f"node on 127.0.0.1:{node_port}, pid {pid}", file=sys.stderr)
        for node_port in node_ports:
            wait_for_port(node_port)
        servers = "\n".join(
            f"    server 127.0.0.1:{node_port} max_fails=1 fail_timeout=2s;"
            for node_port in node_ports
        )
        (work / "nginx.conf").write_text(NGINX_CONF.format(servers=servers, port=port))
        start(
            [
                binary("nginx"),
                "-c",
                f"{work}/nginx.conf",
                "-p",
                f"{work}/",
                "-e",
                f"{work}/logs/error.log",
            ]
        )
        wait_for_port(port)
        print(
            f"realtime chat on 3 nodes: http://127.0.0.1:{port}  (Ctrl+C to stop)", file=sys.stderr
        )
        while all(process.poll() is None for process in (processes[0], processes[-1])):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
