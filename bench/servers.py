"""Server processes: one uvicorn per measurement, pinned to a core, stopped by its pid.

Also reads what the harness measures on the server side: CPU time from ``/proc/<pid>/stat``
(user + system, every thread) and resident memory from ``/proc/<pid>/status`` (VmRSS).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.loadgen.http import HTTPConnection
from bench.systems import APPS

__all__ = ["ServerProcess", "cpu_seconds", "cpus_allowed"]

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 3.0
LOG_TAIL = 2000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (every thread)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpus_allowed(pid: int) -> str:
    """The cores process ``pid`` may run on, as ``taskset`` lists them."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


class ServerProcess:
    """``taskset -c <core> python -m bench.serve <app> --fd N`` on a socket bound here.

    ``app`` (an import string) defaults to the system's bench app; ``env`` adds to the
    environment of the child.
    """

    def __init__(
        self,
        system: str,
        core: int,
        *,
        app: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.system = system
        self.app = app or APPS[system]
        self.core = core
        self.env = env
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._terminated = False
        self._log = tempfile.TemporaryFile()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self) -> None:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(4096)
            self.port = sock.getsockname()[1]
            fd = sock.fileno()
            command = ["taskset", "-c", str(self.core), sys.executable, "-m", "bench.serve"]
            self._proc = subprocess.Popen(
                [*command, self.app, "--fd", str(fd)],
                pass_fds=(fd,),
                cwd=ROOT,
                env={**os.environ, **self.env} if self.env else None,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        finally:
            sock.close()  # the child holds its own copy

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the app answers ``GET /bench/count`` (the socket accepts before that)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"{self.system} server exited: {self.log_tail()}")
            http = HTTPConnection("127.0.0.1", self.port)
            try:
                response = await asyncio.wait_for(http.request("GET", "/bench/count"), 2.0)
                if response.status == 200:
                    return
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass
            finally:
                http.close()
            if loop.time() > deadline:
                raise TimeoutError(f"{self.system} server not ready after {timeout} s")
            await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        return cpu_seconds(self.pid)

    def rss_kib(self) -> int:
        """Resident set size (VmRSS) in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def cpus_allowed(self) -> str:
        return cpus_allowed(self.pid)

    def log_tail(self) -> str:
        """The end of what the server printed (warnings, tracebacks), for the report."""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - LOG_TAIL))
        return self._log.read().decode("utf-8", "replace").strip()

    def terminate(self) -> None:
        """Send SIGTERM (once) without waiting: to stop several servers side by side."""
        proc = self._proc
        if proc is not None and proc.poll() is None and not self._terminated:
            self._terminated = True
            proc.terminate()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT`` seconds; only our own pid."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def close(self) -> None:
        self.stop()
        self._log.close()
