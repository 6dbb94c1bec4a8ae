"""realtime.testing: the public test kit. FaultProxy's faults are proven by the chaos,
session and backpressure tests that use it; here: what it takes, live_server, and the how-to
page's example tests, run by pytest as a user runs them."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from realtime.testing import FaultProxy, live_server

ROOT = Path(__file__).resolve().parents[1]


def test_the_proxy_takes_a_port_or_a_loopback_url() -> None:
    assert FaultProxy(8000).target_port == 8000
    assert FaultProxy("http://127.0.0.1:8001/realtime").target_port == 8001
    assert FaultProxy("http://localhost:8002").target_port == 8002
    for url in ("http://example.com:8000", "http://127.0.0.1"):
        with pytest.raises(ValueError, match="127.0.0.1 with a port"):
            FaultProxy(url)


@pytest.mark.integration
@pytest.mark.anyio
async def test_live_server_runs_the_lifespan_and_stops() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(routes=[Route("/", lambda r: PlainTextResponse("up"))], lifespan=lifespan)
    async with live_server(app) as url, FaultProxy(url) as proxy:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).text == "up"
            assert (await http.get(proxy.url("/"))).text == "up"
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


@pytest.mark.anyio
async def test_live_server_says_when_the_app_does_not_start() -> None:
    @contextlib.asynccontextmanager
    async def broken(app: object) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="uvicorn did not start"):
        async with live_server(Starlette(lifespan=broken), log_level="critical"):
            pass


@pytest.mark.integration
def test_the_how_to_pages_tests_pass_as_written() -> None:
    """docs/how-to/testing.md includes docs/how-to/src/test_app.py: run it with pytest, from
    outside the project's tests (none of their fixtures), as an app's test suite."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "docs/how-to/src/test_app.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_the_in_process_example_passes_as_written() -> None:
    """docs/how-to/testing.md includes docs/how-to/src/test_in_process.py: the same, for the
    in-process client and the realtime_client fixture."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "docs/how-to/src/test_in_process.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout
