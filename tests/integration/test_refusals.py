"""Refusals on every transport: oversize messages, unknown sessions, wrong tokens."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.rawclient import RawSession, hello_ack, negotiate

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MiB = 2**20
OVERSIZE = "d1:" + "x" * (MiB + 1)


async def websocket_close(
    session: RawSession, *frames: str | bytes, token: str | None = None
) -> tuple[str, int]:
    """Open a raw WebSocket, send ``frames``, return the last frame received and the close code."""
    last = ""
    async with session.websocket(token=token) as websocket:
        for frame in frames:
            await websocket.send(frame)
        try:
            async for message in websocket:
                assert isinstance(message, str)
                last = message
        except ConnectionClosed:
            pass
        assert websocket.close_code is not None
        return last, websocket.close_code


async def test_oversize_text_message_on_websocket(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        last, code = await websocket_close(session, OVERSIZE)
        assert (last[:6], code) == ("c1009:", 1009)
        assert (await session.poll(http))[-1].startswith("c1009:")  # the session is over


async def test_oversize_binary_message_on_websocket(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        last, code = await websocket_close(session, b"b1:" + b"x" * (MiB + 1))
        assert (last[:6], code) == ("c1009:", 1009)


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
@pytest.mark.parametrize(
    "frame", [OVERSIZE, "b1:" + "eHh4" * (MiB // 3 + 1)], ids=["text", "base64"]
)
async def test_oversize_message_by_post(server: str, transport: str, frame: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        response = await session.post(http, transport, [frame])
        assert response.status_code == 413
        assert response.json()["code"] == 1009
        assert (await session.poll(http))[-1].startswith("c1009:")


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
async def test_oversize_body_by_post_is_refused_before_it_is_read(
    server: str, transport: str
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        many = [f"d{i}:{'y' * 1000}" for i in range(1, 2000)]  # ~2 MB of small frames
        response = await session.post(http, transport, many)
        assert response.status_code == 413
        assert response.json()["code"] == 1009


async def test_a_message_of_exactly_the_limit_passes(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        response = await session.post(http, "longpoll", ["d1:" + "é" * (MiB // 2)])
        assert response.status_code == 200


async def test_unknown_session_and_wrong_token_on_websocket(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        unknown = RawSession(session.base, "no-such-session", session.token)
        assert await websocket_close(unknown) == ("c4000:unknown or expired session", 4000)
        last, code = await websocket_close(session, token="wrong-token")
        assert (last[:6], code) == ("c4003:", 4003)
        missing = RawSession(session.base, "", session.token)
        last, code = await websocket_close(missing)
        assert (last[:6], code) == ("c1002:", 1002)


@pytest.mark.parametrize(
    ("method", "transport"),
    [("GET", "sse"), ("GET", "longpoll"), ("POST", "sse"), ("POST", "longpoll")],
)
async def test_unknown_session_and_wrong_token_over_http(
    server: str, method: str, transport: str
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        cases = [
            (RawSession(session.base, "no-such-session", session.token), session.token, 404, 4000),
            (session, "wrong-token", 403, 4003),
        ]
        for target, token, status, code in cases:
            headers = {"x-realtime-token": token, "content-type": "application/json"}
            response = await http.request(
                method, target.url(transport), headers=headers, content=b'["q"]'
            )
            assert response.status_code == status
            assert response.json()["code"] == code
            assert response.headers["cache-control"] == "no-store"
        # the session itself is unharmed by the refused requests
        assert hello_ack((await session.poll(http, open=1))[0]) == 0


async def test_the_session_id_alone_grants_nothing(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        for url in (session.url("longpoll"), session.url("sse")):
            assert (await http.get(url)).status_code == 403
        assert (await http.post(session.url("longpoll"), content=b'["d1:x"]')).status_code == 403


async def test_the_token_goes_in_its_header_never_in_the_url(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        response = await http.post(
            session.url("longpoll", token=session.token),
            content=b'["d1:via query"]',
            headers={"content-type": "application/json"},
        )
        assert (response.status_code, response.json()["code"]) == (403, 4003)
        assert "X-Realtime-Token header" in response.json()["error"]
        response = await session.post(http, "longpoll", ["d1:via header"])
        assert response.status_code == 200


async def test_a_websocket_get_without_upgrade_answers_426_never_cacheable(server: str) -> None:
    # A proxy that strips the Upgrade header (varnish's builtin VCL, Apache without
    # wstunnel) turns the handshake into a plain GET: a cacheable 404 would be served again to
    # the client's later attempts through a caching proxy.
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/echo")
        response = await http.get(session.url("websocket"), headers=session.headers)
    assert response.status_code == 426
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["upgrade"] == "websocket"
    assert "Upgrade" in response.json()["error"]


async def test_a_post_whose_body_outlasts_the_session_is_told_it_expired(server: str) -> None:
    # The token is checked when the headers arrive; the body comes slowly, and the session
    # expires meanwhile: the answer is the 404 of an expired session, never a 500.
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/short")  # session_ttl=0.5, never attached
        host, port = server.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        body = b'["d1:late"]'
        writer.write(
            f"POST /short/sse?sid={session.sid} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"X-Realtime-Token: {session.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:3]
        )
        await writer.drain()
        async with asyncio.timeout(10):  # until the session is gone
            while (await session.post(http, "sse", [])).status_code != 404:
                await asyncio.sleep(0.05)
        writer.write(body[3:])
        await writer.drain()
        async with asyncio.timeout(10):
            status_line = await reader.readline()
            rest = await reader.read(4096)
        writer.close()
    assert status_line.split()[1] == b"404", status_line + rest
    assert b'"code":4000' in rest
