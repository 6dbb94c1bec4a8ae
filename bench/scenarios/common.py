"""Helpers the scenarios share: opening many sessions, waiting for the server to see them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from bench.loadgen.base import Client, Target
from bench.loadgen.http import HTTPConnection
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.systems import client_class

__all__ = [
    "Result",
    "ScenarioError",
    "check_failures",
    "phase",
    "sessions",
    "target_of",
    "wait_count",
]


Result = dict[str, float | str]
"""A measurement's figures by name."""


class ScenarioError(Exception):
    """The system did not do the work correctly: the measurement reports an error."""


def target_of(server: ServerProcess) -> Target:
    return Target("127.0.0.1", server.port)


def check_failures(target: Target) -> None:
    if target.failures:
        more = f" (+{len(target.failures) - 1} more)" if len(target.failures) > 1 else ""
        raise ScenarioError(f"{target.failures[0]}{more}")


async def _open_all(clients: list[Client], settings: Settings) -> None:
    semaphore = asyncio.Semaphore(settings.connect_concurrency)

    async def open_one(client: Client) -> None:
        async with semaphore:
            await client.open()

    try:
        async with asyncio.timeout(settings.phase_timeout):
            results = await asyncio.gather(*(open_one(c) for c in clients), return_exceptions=True)
    except TimeoutError:
        raise ScenarioError(
            f"opening {len(clients)} sessions took longer than {settings.phase_timeout} s"
        ) from None
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise ScenarioError(f"{len(errors)}/{len(clients)} sessions failed to open: {errors[0]!r}")


@asynccontextmanager
async def sessions(
    system: str,
    transport: str,
    target: Target,
    count: int,
    settings: Settings,
    sink: Callable[[int], Callable[[str], None]] | None = None,
) -> AsyncIterator[list[Client]]:
    """Open ``count`` sessions (``sink(i)`` gives the i-th its sink); drop them on exit."""
    cls = client_class(system, transport)
    clients = [cls(target) for _ in range(count)]
    if sink is not None:
        for i, client in enumerate(clients):
            client.sink = sink(i)
    try:
        await _open_all(clients, settings)
        yield clients
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def wait_count(target: Target, expected: int, timeout: float) -> None:
    """Wait until the bench app counts ``expected`` broadcast receivers (all joined)."""
    http = HTTPConnection(target.host, target.port)  # not counted with the clients' requests
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            check_failures(target)
            response = await http.request("GET", "/bench/count")
            seen = int(response.body)
            if seen == expected:
                return
            if loop.time() > deadline:
                raise ScenarioError(f"the server counts {seen} receivers, not {expected}")
            await asyncio.sleep(0.05)
    finally:
        http.close()


async def phase(target: Target, work: Awaitable[object], timeout: float, what: str) -> None:
    """Run ``work`` within ``timeout`` seconds; stop early if any client fails."""
    task = asyncio.ensure_future(work)
    failed = asyncio.ensure_future(target.failed.wait())
    try:
        done, _ = await asyncio.wait(
            {task, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        failed.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    check_failures(target)
    if task not in done:
        raise ScenarioError(f"{what} took longer than {timeout} s")
    task.result()
