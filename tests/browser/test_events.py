"""The JS events build (client-js/src/events.js) in a real Chromium against a real uvicorn,
on every transport and both backends: events both ways, calls both ways with timeouts, and
raw messages beside them (the app: tests/integration/events_app.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from realtime.backends.base import Backend
from tests.integration.events_app import build_app
from tests.servers import uvicorn_server

pytestmark = pytest.mark.browser

SCRIPT = """async (transport) => {
  const bounded = (promise, what) => Promise.race([promise, new Promise((_, ko) =>
    setTimeout(() => ko(new Error("timed out: " + what)), 10000))]);
  const rt = connect("/events", { transports: [transport] });
  const opened = new Promise((ok, ko) => { rt.onopen = ok; rt.onclose = (e) => ko(e.reason); });
  await bounded(opened, "open");
  const echoes = [], raws = [];
  let allEchoes;
  const echoed = new Promise((ok) => (allEchoes = ok));
  rt.on("echo", (data) => { echoes.push(data); if (echoes.length == 5) allEchoes(); });
  let raw;
  const rawCame = new Promise((ok) => (raw = ok));
  rt.onmessage = (e) => { raws.push(e.data); raw(); };
  rt.send('{"n":"echo","d":"raw"}');
  const sent = [null, 1, "héllo\\r\\n✓", [1, {a: 2}], {deep: {er: true}}];
  for (const data of sent) rt.emit("echo", data);
  await bounded(echoed, "echoes");
  await bounded(rawCame, "the raw echo");
  const sum = await bounded(rt.call("add", [1, 2, 3]), "add");
  const failed = await rt.call("fail").then(() => null, (e) => [e instanceof CallError, e.message]);
  const late = await rt.call("late", 1.0, { timeout: 200 })
    .then(() => null, (e) => [e.timeout, e.message]);
  rt.on("double", async (x) => 2 * x);
  rt.on("broken", () => { throw new Error("cannot here"); });
  const asked = [];
  let allAsked;
  const answered = new Promise((ok) => (allAsked = ok));
  rt.on("asked", (data) => { asked.push(data); if (asked.length == 3) allAsked(); });
  rt.emit("ask", { name: "double", x: 21, timeout: 10 });
  rt.emit("ask", { name: "broken", x: 0, timeout: 10 });
  rt.emit("ask", { name: "nobody", x: 0, timeout: 10 });
  await bounded(answered, "server calls");
  const after = await bounded(rt.call("add", [40, 2]), "add after");
  rt.close();
  return { transport: rt.transport, echoes, raws, sum, failed, late, asked, after };
}"""


@pytest.fixture(scope="module", params=["memory", "redis"])
def events_server(request: pytest.FixtureRequest) -> Iterator[str]:
    def backend() -> Backend | None:
        if request.param == "memory":
            return None
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        return RedisBackend(url, prefix=f"bev-{secrets.token_hex(4)}")

    with uvicorn_server(build_app(backend)) as url:
        yield url


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
def test_events_and_calls_both_ways_from_a_browser(
    page: Page, events_server: str, transport: str
) -> None:
    page.goto(events_server + "/")
    page.wait_for_function("window.ready")
    result: dict[str, Any] = page.evaluate(SCRIPT, transport)
    assert result == {
        "transport": transport,
        "echoes": [None, 1, "héllo\r\n✓", [1, {"a": 2}], {"deep": {"er": True}}],
        "raws": ['{"n":"echo","d":"raw"}'],  # echoed raw, never an event
        "sum": 6,
        "failed": [True, "refused on purpose"],
        "late": [True, 'call "late" got no reply within 200 ms'],
        "asked": [
            {"result": 42},
            {"error": "cannot here"},
            {"error": 'no handler for "nobody"'},
        ],
        "after": 42,
    }
