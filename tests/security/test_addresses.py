"""Who a client is, for the per-address caps, and what the access log keeps of its URLs.

- An IPv6 client counts by its /64: one host commonly holds a whole /64, so counting exact
  addresses would give it a million allowances. An IPv4-mapped address counts as its IPv4.
- The session token in WebSocket and event-stream URLs never reaches the access log of
  ``realtime.uvicorn.serve``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from realtime import RealtimeApp, Session
from realtime.observe import RedactTokens, redact
from realtime.server.security import client_key
from realtime.testing.inprocess import lifespan
from tests.servers import die_with_parent, free_port, wait_for_port

pytestmark = pytest.mark.anyio


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:198.51.100.9", "198.51.100.9"),
        ("::1", "::/64"),
        ("testclient", "testclient"),
        (None, None),
    ],
)
def test_client_key(host: str | None, key: str | None) -> None:
    assert client_key(host) == key


async def negotiate_from(app: Starlette, host: str) -> int:
    transport = httpx.ASGITransport(app, client=(host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return (await http.post("/rt/negotiate", json={})).status_code


async def test_the_per_client_cap_counts_an_ipv6_slash_64_once() -> None:
    app = Starlette(routes=[Mount("/rt", RealtimeApp(echo, max_sessions_per_client=2))])
    async with lifespan(app):
        assert await negotiate_from(app, "2001:db8:0:1::1") == 200
        assert await negotiate_from(app, "2001:db8:0:1::2") == 200
        assert await negotiate_from(app, "2001:db8:0:1:ffff:ffff:ffff:ffff") == 429
        assert await negotiate_from(app, "2001:db8:0:2::1") == 200, "another /64"
        assert await negotiate_from(app, "::ffff:192.0.2.1") == 200
        assert await negotiate_from(app, "192.0.2.1") == 200
        assert await negotiate_from(app, "192.0.2.1") == 429, "the mapped address counted"


def test_redact_replaces_every_token_value() -> None:
    line = '127.0.0.1:5 - "GET /rt/sse?sid=S&token=s3cr3t-_X&last=0 HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1:5 - "GET /rt/sse?sid=S&token=REDACTED&last=0 HTTP/1.1" 200'
    assert redact("/rt/websocket?token=abc") == "/rt/websocket?token=REDACTED"
    assert redact("/rt/sse?sid=S&mytoken=abc") == "/rt/sse?sid=S&mytoken=abc"
    assert redact("/rt/sse?sid=S&ticket=t1&last=2") == "/rt/sse?sid=S&ticket=REDACTED&last=2"


def test_the_filter_redacts_a_records_arguments_and_keeps_the_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/x?token=t"),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '1.2.3.4 - "GET /x?token=REDACTED"'


SERVE = """
import sys
from starlette.applications import Starlette
from starlette.routing import Mount
from realtime import RealtimeApp
from realtime.uvicorn import serve

async def handler(session):
    async for message in session:
        await session.send(message)

app = Starlette(routes=[Mount("/rt", RealtimeApp(handler))])
serve(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


def test_serve_keeps_tokens_out_of_the_access_log() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent,
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}/rt"
        with httpx.Client() as http:
            session = http.post(f"{base}/negotiate", json={}).json()
            # A client that still puts its token in a URL is refused (4003), and the access
            # log, which records the URL all the same, does not show it.
            url = f"{base}/longpoll?sid={session['sid']}&token={session['token']}&last=0&open=1"
            assert http.get(url).status_code == 403
        time.sleep(0.2)  # the access log line is written after the response
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "/rt/longpoll?sid=" in output, output
    assert session["token"] not in output
    assert "token=REDACTED" in output
