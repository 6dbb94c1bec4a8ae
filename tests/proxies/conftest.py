"""Fixtures of the tests through real proxies: the browser tests' app in uvicorn with the
defaults a new user gets, Playwright, and a report of the time to first message of each
test, printed at the end of the run (timings are reported, never asserted)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Playwright, sync_playwright

from tests.browser.app import make_app
from tests.proxies.drive import Outcome
from tests.servers import uvicorn_server

TIMINGS = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The browser tests' app (page at ``/``, realtime at ``/realtime``), default options."""
    app, _ = make_app()
    with uvicorn_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[Outcome], None]:
    """Record a test's outcome for the summary at the end of the run."""

    def record(outcome: Outcome) -> None:
        fallbacks = " -> ".join([*outcome.fallbacks, outcome.transport])
        line = f"{outcome.first_message_ms:7.0f} ms  {fallbacks:28}  {request.node.name}"
        request.config.stash.setdefault(TIMINGS, []).append(line)
        print(line)

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(TIMINGS, [])
    if lines:
        terminalreporter.section("time to first message through proxies (not asserted)")
        for line in lines:
            terminalreporter.write_line(line)
