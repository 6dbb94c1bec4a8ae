"""Drive the JS client in headless Chromium, through a forward proxy or none, and see what a
new user gets: the transport the client ends on, whether 20 echoes come back once and in
order, and how long the first message took.

The page is the browser tests' (tests/browser/page.html: ``window.start(options)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page, Playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

__all__ = ["ECHOES", "Outcome", "chromium_page", "echoes", "expected"]

ECHOES = 20

# Connect, then send ECHOES messages at once (the client queues them until it is open); keep
# the time of the first message and the transport of every fallback.
START = """({options, count}) => {
  const t0 = performance.now();
  start(options);
  window.firstMessageMs = null;
  window.fallbacks = [];
  rt.addEventListener("message", () => { window.firstMessageMs ??= performance.now() - t0; });
  rt.addEventListener("fallback", (e) => window.fallbacks.push(e.transport));
  for (let i = 1; i <= count; i++) rt.send(`echo ${i}`);
}"""


@dataclass(frozen=True)
class Outcome:
    transport: str
    """The transport in use once every message came back."""
    fallbacks: list[str]
    """The transports the client gave up, in order."""
    first_message_ms: float
    """From connect() to the first message."""
    received: list[str]
    """Every message the client received."""
    types: list[str]
    """The client's events other than messages and fallbacks, in order."""


@contextlib.contextmanager
def chromium_page(playwright: Playwright, proxy_port: int | None = None) -> Iterator[Page]:
    """A page of a new headless Chromium, which sends everything through the forward proxy on
    ``127.0.0.1:proxy_port`` if given: loopback included (Chromium bypasses proxies for
    loopback unless told not to), and Chromium's own background requests resolve nowhere."""
    args = list(CHROMIUM_ARGS)
    if proxy_port is not None:
        args += [
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=args, timeout=TIMEOUT_MS
    )
    try:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        yield context.new_page()
    finally:
        browser.close()


def echoes(page: Page, base: str, *, init_script: str = "", **options: Any) -> Outcome:
    """Load the test page from ``base``, connect with ``options``, send ECHOES messages, have
    the server stream ECHOES more, and wait for all of them and a last echo."""
    if init_script:
        page.add_init_script(init_script)
    page.goto(base + "/")
    page.wait_for_function("window.ready")
    page.evaluate(START, {"options": options, "count": ECHOES})
    page.wait_for_function("count => messages.length >= count", arg=ECHOES)
    page.evaluate(f"rt.send('stream {ECHOES}'); rt.send('end')")
    page.wait_for_function("count => messages.length >= count", arg=2 * ECHOES + 1)
    state: dict[str, Any] = page.evaluate(
        """({transport: rt.transport, fallbacks, firstMessageMs, received: messages,
             types: events.map(e => e.type).filter(t => t != "fallback")})"""
    )
    return Outcome(
        transport=state["transport"],
        fallbacks=state["fallbacks"],
        first_message_ms=state["firstMessageMs"],
        received=state["received"],
        types=state["types"],
    )


def expected() -> list[str]:
    """What :func:`echoes` must receive: every echo and streamed message once, in order."""
    return [
        *(f"echo {i}" for i in range(1, ECHOES + 1)),
        *(str(i) for i in range(1, ECHOES + 1)),
        "end",
    ]
