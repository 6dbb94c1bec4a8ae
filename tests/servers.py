"""Real servers for the tests: uvicorn, nginx and redis-server, on 127.0.0.1 only.

Each is a context manager that starts the server on a free port, waits until it accepts
connections (bounded in time), and stops it by the pid it started, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

from realtime.uvicorn import Server

__all__ = [
    "die_with_parent",
    "free_port",
    "nginx",
    "redis_server",
    "uvicorn_server",
    "wait_for_port",
]

STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def die_with_parent() -> None:
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM when the test process dies, so an
    interrupted test run leaves no server behind (Linux ``PR_SET_PDEATHSIG``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def port_of(url: str) -> int:
    """The port of ``http://127.0.0.1:PORT`` (as :func:`uvicorn_server` yields it)."""
    port = urlsplit(url).port
    assert port is not None, url
    return port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.02)


@contextlib.contextmanager
def uvicorn_server(app: ASGIApp, port: int = 0, **config: Any) -> Iterator[str]:
    """Run ``app`` in uvicorn in a thread; yield its base URL ``http://127.0.0.1:PORT``.

    Stops it on exit (draining realtime connections first) and waits for the thread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **config}
    server = Server(uvicorn.Config(app, **options))  # drains realtime connections on exit
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"uvicorn did not stop within {STOP_TIMEOUT} s")


NGINX_PRELUDE = """\
worker_processes 1;
daemon off;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections %d; }
http {
  access_log off;
  client_body_temp_path tmp_body; proxy_temp_path tmp_proxy; fastcgi_temp_path tmp_fastcgi;
  uwsgi_temp_path tmp_uwsgi; scgi_temp_path tmp_scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
%s
}
"""


@contextlib.contextmanager
def nginx(
    servers: str, directory: Path, worker_connections: int = 1024
) -> Iterator[subprocess.Popen[bytes]]:
    """Run nginx with the given ``server { ... }`` (and ``upstream``) blocks, which choose
    their own ports."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_PRELUDE % (worker_connections, servers))
    args = [binary, "-c", str(conf), "-p", f"{directory}/", "-e", str(directory / "logs/error.log")]
    subprocess.run([*args, "-t"], check=True, capture_output=True)
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


def balancer(port: int, upstreams: list[str]) -> str:
    """The ``upstream`` and ``server`` blocks of a round-robin balancer without affinity, as
    docs/how-to/scaling.md configures it: ``upstreams`` are ``server`` lines' arguments
    (``"127.0.0.1:8001"``, with options if any)."""
    servers = "\n".join(f"    server {upstream};" for upstream in upstreams)
    return f"""
  upstream nodes {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 60s;
      proxy_connect_timeout 2s;
    }}
  }}"""


@contextlib.contextmanager
def redis_server(
    directory: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run redis-server without persistence; yield its URL and process."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
