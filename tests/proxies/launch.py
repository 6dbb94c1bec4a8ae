"""Real forward proxies from Debian, for the browser to go through: privoxy and squid.

Each runs in the foreground on a free 127.0.0.1 port, with a config written to a new
directory, lets only requests to 127.0.0.1 through, logs every request to a file there (the
tests read it to prove the traffic went through the proxy), and is stopped by the pid it was
started with. scripts/bootstrap installs both.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import STARTUP_TIMEOUT, die_with_parent, free_port

__all__ = ["Running", "privoxy", "squid"]


@dataclass(frozen=True)
class Running:
    """A proxy listening on ``127.0.0.1:port``, logging requests to ``log``."""

    port: int
    log: Path

    def logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _binary(name: str) -> str:
    found = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.access(found, os.X_OK):
        raise RuntimeError(f"{name} is not installed: run scripts/bootstrap")
    return found


@contextlib.contextmanager
def _run(args: list[str], port: int, output: Path) -> Iterator[None]:
    with output.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
        else:
            detail = output.read_text(errors="replace")
            raise RuntimeError(f"{args[0]} did not start (exit {process.poll()}):\n{detail}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# The package's default filters and actions (they hold back text/event-stream responses
# until they end), plus a block of every destination but 127.0.0.1. `debug 1` logs each
# request; `limit-connect` is privoxy's way to refuse CONNECT to some ports.
PRIVOXY_CONFIG = """\
confdir /etc/privoxy
actionsfile match-all.action
actionsfile default.action
actionsfile {directory}/local.action
filterfile default.filter
listen-address 127.0.0.1:{port}
toggle 1
enable-remote-toggle 0
enable-remote-http-toggle 0
enable-edit-actions 0
debug 1
"""
PRIVOXY_ACTIONS = """\
{+block{loopback only}}
/
{-block}
127.0.0.1
"""
PRIVOXY_CONNECT_443 = """\
{+limit-connect{443}}
/
"""


@contextlib.contextmanager
def privoxy(*, connect_only_443: bool = False) -> Iterator[Running]:
    """privoxy with Debian's defaults; ``connect_only_443`` refuses CONNECT (and so
    WebSocket through it) to every port but 443."""
    binary = _binary("privoxy")
    with tempfile.TemporaryDirectory(prefix="privoxy-") as name:
        directory, port = Path(name), free_port()
        (directory / "config").write_text(PRIVOXY_CONFIG.format(directory=directory, port=port))
        actions = PRIVOXY_ACTIONS + (PRIVOXY_CONNECT_443 if connect_only_443 else "")
        (directory / "local.action").write_text(actions)
        log = directory / "privoxy.log"
        with _run([binary, "--no-daemon", str(directory / "config")], port, log):
            yield Running(port, log)


# Debian's access rules (CONNECT only to 443, "Safe_ports"), restricted to 127.0.0.1.
SQUID_CONFIG = """\
http_port 127.0.0.1:{port}
pid_filename {directory}/squid.pid
cache_log {directory}/cache.log
access_log stdio:{directory}/access.log squid
coredump_dir {directory}
shutdown_lifetime 0 seconds
acl SSL_ports port 443
acl Safe_ports port 80 21 443 70 210 1025-65535 280 488 591 777
acl loopback dst 127.0.0.1
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access deny !loopback
http_access allow localhost
http_access deny all
"""


@contextlib.contextmanager
def squid() -> Iterator[Running]:
    """squid as Debian configures it: CONNECT (and so WebSocket through it) only to 443."""
    binary = _binary("squid")
    with tempfile.TemporaryDirectory(prefix="squid-") as name:
        directory, port = Path(name), free_port()
        if os.geteuid() == 0:  # squid then runs as its own user, which must write the logs
            user = pwd.getpwnam("proxy")
            os.chown(directory, user.pw_uid, user.pw_gid)
        (directory / "squid.conf").write_text(SQUID_CONFIG.format(directory=directory, port=port))
        # A service name of its own: squid names its shared memory segments after it.
        service = f"realtimetest{port}"  # alphanumeric only
        args = [binary, "-N", "-n", service, "-f", str(directory / "squid.conf")]
        try:
            with _run(args, port, directory / "squid.out"):
                yield Running(port, directory / "access.log")
        finally:
            for segment in Path("/dev/shm").glob(f"{service}-*"):  # left by a crash only
                segment.unlink()
