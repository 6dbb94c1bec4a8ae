"""Limits, each with its clear error: sizes, batches, sessions, rate, slow clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.rawclient import hello_ack, negotiate
from tests.security.app import build_app
from tests.servers import die_with_parent, free_port, uvicorn_server, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
JSON = {"content-type": "application/json"}

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def limited(**options: Any) -> Iterator[str]:
    """A fresh server whose ``/limited`` mount has ``options``; yields the mount's URL."""
    with uvicorn_server(build_app(**options)) as url:
        yield f"{url}/limited"


async def test_sessions_in_all_are_limited() -> None:
    for base in limited(max_sessions=3, max_sessions_per_client=None):
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                assert (await http.post(f"{base}/negotiate", json={})).status_code == 200
            full = await http.post(f"{base}/negotiate", json={})
            assert (full.status_code, full.json()["code"]) == (503, 1013)


async def test_sessions_per_client_address_are_limited() -> None:
    for base in limited(max_sessions_per_client=2):
        async with httpx.AsyncClient() as http:
            for _ in range(2):
                assert (await http.post(f"{base}/negotiate", json={})).status_code == 200
            full = await http.post(f"{base}/negotiate", json={})
            assert (full.status_code, full.json()["code"]) == (429, 1013)


async def test_the_rate_limit_ends_a_flooding_session_over_websocket() -> None:
    for base in limited(max_rate=5.0, max_burst=5):
        async with httpx.AsyncClient() as http:
            session = await negotiate(http, base)
        async with session.websocket() as websocket:
            assert hello_ack(await websocket.recv()) == 0
            for seq in range(1, 21):
                await websocket.send(f"d{seq}:flood")
            frames: list[str | bytes] = []
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(10):
                    while True:
                        frames.append(await websocket.recv())
            assert isinstance(frames[-1], str) and frames[-1].startswith("c4006:")
            assert websocket.close_code == 4006


async def test_the_rate_limit_over_post_answers_429() -> None:
    for base in limited(max_rate=5.0, max_burst=5):
        async with httpx.AsyncClient() as http:
            session = await negotiate(http, base)
            response = await session.post(http, "longpoll", [f"d{seq}:x" for seq in range(1, 21)])
            assert (response.status_code, response.json()["code"]) == (429, 4006)
            assert (await session.poll(http, open=1))[-1].startswith("c4006:")


async def test_a_batch_over_max_batch_is_refused() -> None:
    for base in limited(max_batch=10, max_rate=None):
        async with httpx.AsyncClient() as http:
            session = await negotiate(http, base)
            response = await session.post(http, "longpoll", ["q"] * 11)
            assert (response.status_code, response.json()["code"]) == (400, 1008)


async def chunks(total: int, size: int = 65536) -> AsyncIterator[bytes]:
    yield b'["d1:'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"]'


async def test_an_oversize_body_without_content_length_is_refused_as_it_arrives() -> None:
    for base in limited(max_message_size=1000):
        async with httpx.AsyncClient() as http:
            session = await negotiate(http, base)
            response = await http.post(
                session.url("longpoll"),
                headers={"x-realtime-token": session.token, "content-type": "application/json"},
                content=chunks(10 * 2**20),  # chunked: the server sees the size only as it reads
            )
            assert (response.status_code, response.json()["code"]) == (413, 1009)


async def test_a_client_too_slow_to_send_its_body_gets_408() -> None:
    for base in limited(read_timeout=0.3):
        async with httpx.AsyncClient() as http:
            session = await negotiate(http, base)
        host, port = base.removeprefix("http://").split("/")[0].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST /limited/longpoll?sid={session.sid} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"X-Realtime-Token: {session.token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n["
        )
        writer.write(head.encode())  # ...and never the rest of the body
        async with asyncio.timeout(10):
            status = await reader.readline()
            await reader.read(4096)
        writer.close()
        assert status.startswith(b"HTTP/1.1 408")


async def test_one_pending_long_poll_per_session(server: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        session = await negotiate(http, f"{server}/open")
        await session.poll(http, open=1)
        first = asyncio.create_task(session.poll(http))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(session.poll(http))
        assert (await asyncio.wait_for(first, 10))[0].startswith("r4002:")  # replaced
        await session.post(http, "longpoll", ["d1:for the newer poll"])
        assert "d1:for the newer poll" in await asyncio.wait_for(second, 10)


async def test_the_negotiation_body_is_bounded(server: str) -> None:
    async with httpx.AsyncClient() as http:
        body = json.dumps({"v": 1, "transports": ["websocket"] * 2000}).encode()
        response = await http.post(f"{server}/open/negotiate", content=body, headers=JSON)
        assert (response.status_code, response.json()["code"]) == (413, 1009)


def test_uvicorn_is_told_the_websocket_message_limit() -> None:
    """serve() sizes uvicorn's ws_max_size, so an oversize WebSocket message is refused by
    the server before it is buffered whole (uvicorn's own default is 16 MiB)."""
    from realtime import RealtimeApp
    from realtime.uvicorn import ws_max_size
    from tests.security.app import echo

    assert ws_max_size([RealtimeApp(echo, max_message_size=1000)]) == 1064
    assert ws_max_size([RealtimeApp(echo), RealtimeApp(echo, max_message_size=10)]) == 2**20 + 64
    assert ws_max_size([RealtimeApp(echo, max_message_size=None)]) is None


@pytest.mark.integration
def test_serve_turns_permessage_deflate_off() -> None:
    """A compressed WebSocket frame inflates in full before uvicorn checks its size (16 KiB
    compressed became +32 MiB of memory each): ``realtime.uvicorn.serve`` refuses the
    extension, so what a client sends is what the server holds."""
    port = free_port()
    serve = (
        "import sys; from realtime.uvicorn import serve; from tests.security.app import build_app;"
        " serve(build_app(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", serve, str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=die_with_parent,
    )
    try:
        wait_for_port(port)
        negotiated = httpx.post(f"http://127.0.0.1:{port}/open/negotiate", json={}).json()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(
                f"GET /open/websocket?sid={negotiated['sid']} "
                f"HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"X-Realtime-Token: {negotiated['token']}\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13"
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".encode()
            )
            answer = b""
            while b"\r\n\r\n" not in answer and len(answer) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 101")
        assert b"sec-websocket-extensions" not in head, head
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
