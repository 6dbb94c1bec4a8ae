"""The JavaScript client in a real Chromium against a real server: which transport it picks
on each kind of network, and that every message arrives once, in order, whatever happens.

Each test loads the test page (tests/browser/page.html), calls ``start(options)`` there and
reads back ``window.messages`` and ``window.events``.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.proxy import Proxy

pytestmark = pytest.mark.browser

NO_WEBSOCKET = "delete window.WebSocket;"
NO_EVENTSOURCE = "delete window.EventSource;"


def load(page: Page, base: str, init_script: str = "") -> None:
    if init_script:
        page.add_init_script(init_script)
    page.goto(base + "/")
    page.wait_for_function("window.ready")


def start(page: Page, *sends: str, **options: Any) -> str:
    """Connect with ``options`` and send ``sends`` at once (they go with the first
    connection); wait for the open event and return the transport it opened on."""
    page.evaluate(
        "([options, sends]) => { start(options); sends.forEach(m => rt.send(m)); }",
        [options, list(sends)],
    )
    page.wait_for_function("events.some(e => e.type == 'open' || e.type == 'close')")
    assert "open" in event_types(page) and "close" not in event_types(page), events(page)
    transport: str = next(e["transport"] for e in events(page) if e["type"] == "open")
    return transport


def events(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("events")
    return found


def event_types(page: Page) -> list[str]:
    return [event["type"] for event in events(page)]


def send(page: Page, *messages: str) -> None:
    page.evaluate("messages => messages.forEach(m => rt.send(m))", list(messages))


def wait_for_messages(page: Page, count: int) -> list[Any]:
    page.wait_for_function("count => messages.length >= count", arg=count)
    received: list[Any] = page.evaluate("messages")
    return received


def numbers(count: int) -> list[str]:
    return [str(number) for number in range(1, count + 1)]


def assert_stream(page: Page, count: int) -> None:
    """Have the server send ``count`` numbered messages, then echo "end": all must arrive
    once, in order, and nothing else."""
    already = len(page.evaluate("messages"))
    send(page, f"stream {count}", "end")
    assert wait_for_messages(page, already + count + 1)[already:] == [*numbers(count), "end"]


def test_websocket_first(page: Page, server: str) -> None:
    load(page, server)
    assert start(page) == "websocket"
    assert_stream(page, 1000)
    assert event_types(page) == ["open"]


def test_sse_without_websocket(page: Page, server: str) -> None:
    load(page, server, NO_WEBSOCKET)
    assert start(page) == "sse"
    assert_stream(page, 1000)
    assert event_types(page) == ["open"]


def test_longpoll_without_websocket_and_eventsource(page: Page, server: str) -> None:
    load(page, server, NO_WEBSOCKET + NO_EVENTSOURCE)
    assert start(page) == "longpoll"
    assert_stream(page, 1000)
    assert event_types(page) == ["open"]


def test_sse_through_a_proxy_without_websocket_upgrades(
    page: Page, proxies: dict[str, str]
) -> None:
    load(page, proxies["plain"])
    assert start(page) == "sse"
    assert [(e["type"], e.get("transport")) for e in events(page)] == [
        ("fallback", None),
        ("open", "sse"),
    ]
    assert events(page)[0]["reason"] == "websocket closed"
    assert_stream(page, 1000)


def test_longpoll_through_a_proxy_that_buffers_event_streams(
    page: Page, proxies: dict[str, str], buffering_proxy: Proxy
) -> None:
    held = buffering_proxy.held
    load(page, proxies["buffering"])
    start(page)
    page.wait_for_function("rt.transport == 'longpoll'")
    reasons = [e["reason"] for e in events(page) if e["type"] == "fallback"]
    # Long-polling raced the held stream after raceAfter and won, or the stream's hello came
    # out first (the proxy let it go once the server ended the stream for the long-poll) and
    # the session went on to long-polling at once: never a reconnect.
    assert reasons[0] == "websocket closed"
    assert reasons[1:] in (["no hello before longpoll's"], ["a newer connection took over"])
    assert "reconnecting" not in event_types(page)
    assert buffering_proxy.held > held, "the server did send the stream, and the proxy held it"
    assert_stream(page, 500)
    # The origin remembers, for an hour: the next page, and a new tab, go to long-polling at once.
    tab = page.context.new_page()
    load(tab, proxies["buffering"])
    assert start(tab) == "longpoll"
    assert event_types(tab) == ["open"]
    page.reload()
    page.wait_for_function("window.ready")
    assert start(page) == "longpoll"
    assert event_types(page) == ["open"]


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
def test_resume_after_the_connection_is_cut(page: Page, cutter: Proxy, transport: str) -> None:
    load(page, f"http://127.0.0.1:{cutter.port}")
    assert start(page, transports=[transport]) == transport
    send(page, "stream 1000 2", "end")
    wait_for_messages(page, 300)
    assert cutter.kill(outage=0.3) >= 1
    at_cut = len(page.evaluate("messages"))
    assert at_cut < 1000, "the cut came after the stream: make the stream slower"
    assert wait_for_messages(page, 1001) == [*numbers(1000), "end"]
    kinds = event_types(page)
    assert kinds[0] == "open" and "reconnect" in kinds, kinds
    assert {e["code"] for e in events(page) if e["type"] == "reconnecting"} == {1006}
    assert page.evaluate("rt.transport") == transport


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
def test_upgrade_to_websocket_mid_stream(page: Page, server: str, transport: str) -> None:
    """The old connection acks (SSE) or polls (long-polling) while the WebSocket opens: the
    server must never see an ack past the WebSocket's resume point first (that is a 4004)."""
    remember = (
        "localStorage.setItem('realtime:' + location.origin + '/realtime', "
        f"'{transport} ' + Date.now());"
    )
    load(page, server, remember)
    # The stream starts with the first connection: the upgrade comes 300 ms into it, however
    # slowly this test reads the page.
    assert start(page, "stream 1000 2", "end", upgradeAfter=300) == transport
    page.wait_for_function("events.some(e => e.type == 'transportchange')")
    assert len(page.evaluate("messages")) < 1000, "the upgrade came after the stream"
    assert wait_for_messages(page, 1001) == [*numbers(1000), "end"]
    assert event_types(page) == ["open", "transportchange"]
    assert events(page)[1]["from"] == transport and events(page)[1]["to"] == "websocket"


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_heartbeats_keep_a_quiet_connection(
    page: Page, fast_heartbeats: str, transport: str
) -> None:
    load(page, fast_heartbeats)
    assert start(page, transports=[transport]) == transport
    page.wait_for_timeout(1500)  # nothing to wait for: the connection must live through it
    send(page, "still here")
    assert wait_for_messages(page, 1) == ["still here"]
    assert event_types(page) == ["open"], "a heartbeat went unanswered, or a ping unseen"


@pytest.mark.parametrize(
    ("transport", "binary_type"),
    [("websocket", "arraybuffer"), ("sse", "arraybuffer"), ("longpoll", "blob")],
)
def test_binary_round_trip(page: Page, server: str, transport: str, binary_type: str) -> None:
    load(page, server)
    assert start(page, transports=[transport], binaryType=binary_type) == transport
    page.evaluate(
        """() => {
        const all = new Uint8Array(256).map((_, i) => i);
        rt.send(all);
        rt.send(all.subarray(250).buffer.slice(250));
        rt.send(new Blob([new Uint8Array([1, 2, 3])]));
        rt.send(new DataView(all.buffer, 10, 2));
        rt.send("text");
    }"""
    )
    wait_for_messages(page, 5)
    received = page.evaluate(
        """async (type) => Promise.all(messages.map(async (m) => {
            if (typeof m == "string") return m;
            if (!(m instanceof (type == "blob" ? Blob : ArrayBuffer))) return "wrong type";
            return Array.from(new Uint8Array(type == "blob" ? await m.arrayBuffer() : m));
        }))""",
        binary_type,
    )
    assert received == [list(range(256)), list(range(250, 256)), [1, 2, 3], [10, 11], "text"]


def test_reset_when_the_session_cannot_be_resumed(page: Page, server: str) -> None:
    load(page, server)
    assert start(page) == "websocket"
    send(page, "close 4005")  # BUFFER_OVERFLOW: policy "new"
    page.wait_for_function("events.some(e => e.type == 'reconnect')")
    reset = [e for e in events(page) if e["type"] == "reset"]
    assert [(e["code"], e["reason"]) for e in reset] == [(4005, "closed by the test")]
    assert event_types(page) == ["open", "reset", "reconnecting", "reconnect"]
    send(page, "after the reset")
    assert wait_for_messages(page, 1) == ["after the reset"]


def test_close_is_clean_and_final(page: Page, server: str) -> None:
    load(page, server)
    start(page)
    page.evaluate("rt.send('last words'); rt.close(4100, 'bye')")
    page.wait_for_function("events.some(e => e.type == 'close')")
    assert events(page)[-1] | {"ms": 0} == {
        "type": "close",
        "code": 4100,
        "reason": "bye",
        "wasClean": True,
        "transport": "websocket",
        "ms": 0,
    }
    assert page.evaluate("rt.readyState") == 3


def test_script_tag_build(page: Page, server: str) -> None:
    load(page, server)
    page.add_script_tag(url="/realtime/realtime.min.js")
    page.evaluate(
        """() => {
        const rt = Realtime.connect("/realtime");
        rt.onopen = () => rt.send("from the script tag");
        rt.onmessage = (event) => { window.echo = event.data; };
    }"""
    )
    page.wait_for_function("window.echo == 'from the script tag'")
