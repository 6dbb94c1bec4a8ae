"""Who may use a session: Origin checks, the authentication hook, tokens, CSRF and CORS."""

from __future__ import annotations

import asyncio
import hmac
import logging

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

import realtime.client
from realtime import NegotiationError
from realtime.backends.base import SessionInfo
from realtime.backends.memory import MemoryBackend
from realtime.server.security import hash_token, new_session_id, new_token
from realtime.types import SessionId
from tests.integration.rawclient import RawSession, hello_ack, negotiate

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

FOREIGN = "https://evil.example"
JSON_TYPE = {"content-type": "application/json"}


def host_of(server: str) -> str:
    return server.removeprefix("http://")


# -- Origin ------------------------------------------------------------------------------


async def test_negotiation_is_same_origin_by_default(server: str) -> None:
    async with httpx.AsyncClient() as http:
        url = f"{server}/open/negotiate"
        assert (await http.post(url, json={})).status_code == 200  # no Origin: not a browser
        assert (await http.post(url, json={}, headers={"origin": server})).status_code == 200
        refused = await http.post(url, json={}, headers={"origin": FOREIGN})
        assert (refused.status_code, refused.json()["code"]) == (403, 1008)
        # Only the host and port count: another port is another origin.
        other_port = await http.post(url, json={}, headers={"origin": "http://127.0.0.1:1"})
        assert other_port.status_code == 403


@pytest.mark.parametrize(
    ("method", "transport"),
    [("GET", "sse"), ("GET", "longpoll"), ("POST", "sse"), ("POST", "longpoll")],
)
async def test_every_transport_request_checks_the_origin(
    server: str, method: str, transport: str
) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
        headers = {
            "origin": FOREIGN,
            "x-realtime-token": session.token,
            "content-type": "application/json",
        }
        refused = await http.request(method, session.url(transport), headers=headers, content=b"[]")
        assert (refused.status_code, refused.json()["code"]) == (403, 1008)


async def test_the_websocket_handshake_checks_the_origin(server: str) -> None:
    """Cross-site WebSocket hijacking: the upgrade itself is refused, with 403."""
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
    url = "ws" + session.url("websocket").removeprefix("http")
    token = session.headers
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(url, origin=FOREIGN, additional_headers=token):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    async with ws_connect(url, origin=server, additional_headers=token) as websocket:  # type: ignore[arg-type]
        assert hello_ack(await websocket.recv()) == 0


async def test_an_allowlist_and_a_predicate(server: str) -> None:
    async with httpx.AsyncClient() as http:
        allow = f"{server}/allowlist/negotiate"
        assert (
            await http.post(allow, json={}, headers={"origin": "https://trusted.example"})
        ).status_code == 200
        assert (
            await http.post(allow, json={}, headers={"origin": server})
        ).status_code == 200  # its own
        assert (await http.post(allow, json={}, headers={"origin": FOREIGN})).status_code == 403
        predicate = f"{server}/predicate/negotiate"
        assert (
            await http.post(predicate, json={}, headers={"origin": "https://a.example.org"})
        ).status_code == 200
        assert (await http.post(predicate, json={}, headers={"origin": FOREIGN})).status_code == 403


# -- CORS --------------------------------------------------------------------------------


async def test_cors_is_off_by_default(server: str) -> None:
    async with httpx.AsyncClient() as http:
        preflight = await http.options(
            f"{server}/open/negotiate",
            headers={"origin": FOREIGN, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 405
        assert "access-control-allow-origin" not in preflight.headers


async def test_cors_answers_allowed_origins_only(server: str) -> None:
    async with httpx.AsyncClient() as http:
        url = f"{server}/allowlist/negotiate"
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        }
        allowed = await http.options(
            url, headers={"origin": "https://trusted.example", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://trusted.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        denied = await http.options(url, headers={"origin": FOREIGN, **preflight})
        assert denied.status_code == 400
        assert "access-control-allow-origin" not in denied.headers
        simple = await http.post(url, json={}, headers={"origin": "https://trusted.example"})
        assert simple.headers["access-control-allow-origin"] == "https://trusted.example"
        assert simple.headers["vary"] == "Origin"


# -- Authentication ----------------------------------------------------------------------


async def test_the_authentication_hook_decides_and_its_user_is_on_the_session(server: str) -> None:
    async with httpx.AsyncClient() as http:
        url = f"{server}/auth/negotiate"
        anonymous = await http.post(url, json={})
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, 4007)
        banned = await http.post(url, json={}, headers={"authorization": "Bearer banned"})
        assert (banned.status_code, banned.json()) == (403, {"error": "banned", "code": 4007})
    headers = {"authorization": "Bearer ada-token"}
    async with realtime.client.connect(f"{server}/auth", headers=headers) as conn:
        assert await asyncio.wait_for(conn.receive(), 10) == "hello ada"


async def test_a_refused_client_is_told_and_does_not_retry(server: str) -> None:
    with pytest.raises(NegotiationError) as info:
        await realtime.client.connect(f"{server}/auth", headers={"authorization": "Bearer wrong"})
    assert (info.value.status, info.value.code) == (401, 4007)


# -- Tokens ------------------------------------------------------------------------------


def test_ids_and_tokens_are_long_random_and_distinct() -> None:
    ids = {new_session_id() for _ in range(1000)}
    tokens = {new_token() for _ in range(1000)}
    assert len(ids) == len(tokens) == 1000 and not ids & tokens
    assert min(len(i) for i in ids) >= 22  # 128 bits in URL-safe base64
    assert min(len(t) for t in tokens) >= 32  # 192 bits


async def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)
    backend = MemoryBackend()
    token, rotated = new_token(), new_token()
    sid = SessionId(new_session_id())
    await backend.create(SessionInfo(sid, hash_token(token), 0.0), 0.0)
    assert await backend.check_token(sid, hash_token(token), 0.0)
    assert not await backend.check_token(sid, hash_token("nope"), 0.0)
    await backend.rotate_token(sid, hash_token(rotated))
    assert await backend.check_token(sid, hash_token(rotated), 1.0)
    # Only hashes are compared, and by compare_digest: every comparison was one of these.
    assert len(calls) >= 4 and all(len(a) == len(b) == 64 for a, b in calls)


async def test_a_session_of_another_user_is_out_of_reach(server: str) -> None:
    """Bob knows Ada's session id (it shows up in logs): without her token it is useless,
    and his own token does not open her session."""
    async with httpx.AsyncClient() as http:
        ada = await negotiate(http, f"{server}/open")
        bob = await negotiate(http, f"{server}/open")
        stolen = RawSession(ada.base, ada.sid, bob.token)
        for response in (
            await http.get(stolen.url("longpoll", open=1), headers=stolen.headers),
            await http.get(stolen.url("sse", ticket=await bob.ticket(http))),
            await stolen.post(http, "longpoll", ["d1:hijack"]),
        ):
            assert (response.status_code, response.json()["code"]) == (403, 4003)
        assert hello_ack((await ada.poll(http, open=1))[0]) == 0  # untouched


# -- CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_posts_need_the_json_content_type(server: str, content_type: str | None) -> None:
    """What an HTML form can send cross-site without a preflight is refused."""
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
        headers = {"x-realtime-token": session.token}
        if content_type:
            headers["content-type"] = content_type
        response = await http.post(session.url("longpoll"), headers=headers, content=b'["d1:x"]')
        assert (response.status_code, response.json()["code"]) == (415, 1002)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_negotiation_needs_the_json_content_type(
    server: str, content_type: str | None
) -> None:
    """A simple cross-site POST (no preflight) cannot open a session and read its token."""
    async with httpx.AsyncClient() as http:
        headers = {"content-type": content_type} if content_type else {}
        refused = await http.post(f"{server}/open/negotiate", headers=headers, content=b'{"v":1}')
        assert (refused.status_code, refused.json()["code"]) == (415, 1002)
        assert "token" not in refused.json()
        empty = await http.post(f"{server}/open/negotiate", headers=JSON_TYPE)
        assert empty.status_code == 200, "the body may be empty"
        charset = {"content-type": "application/json; charset=utf-8"}
        assert (await http.post(f"{server}/open/negotiate", headers=charset)).status_code == 200


async def test_cookies_alone_grant_nothing(server: str) -> None:
    async with httpx.AsyncClient() as http:
        session = await negotiate(http, f"{server}/open")
        response = await http.post(
            session.url("longpoll"),
            headers={"content-type": "application/json", "cookie": f"token={session.token}"},
            content=b'["d1:x"]',
        )
        assert response.status_code == 403


async def test_any_origin_never_comes_with_credentials(server: str) -> None:
    # allowed_origins=["*"] with cors=True: any page may use the app, but not with the
    # visitor's cookies: a cookie-bearing negotiation from another site must not be readable.
    async with httpx.AsyncClient() as http:
        url = f"{server}/any/negotiate"
        preflight = await http.options(
            url,
            headers={
                "origin": FOREIGN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == FOREIGN
        assert "access-control-allow-credentials" not in preflight.headers
        cookie = {"origin": FOREIGN, "cookie": "session=victim"}
        after_preflight = await http.post(url, json={}, headers=cookie)
        assert after_preflight.status_code == 200
        assert "access-control-allow-credentials" not in after_preflight.headers
        # A simple POST (no preflight: not JSON) is refused outright.
        simple = await http.post(
            url, content=b"{}", headers={**cookie, "content-type": "text/plain"}
        )
        assert (simple.status_code, "token" in simple.json()) == (415, False)


async def test_the_null_origin_is_never_allowed(server: str) -> None:
    async with httpx.AsyncClient() as http:
        for mount in ("any", "allowlist", "open"):
            refused = await http.post(
                f"{server}/{mount}/negotiate", json={}, headers={"origin": "null"}
            )
            assert (refused.status_code, refused.json()["code"]) == (403, 1008), mount


# -- Origins compared whole: scheme, host and port ---------------------------------------------


async def test_an_origin_must_match_in_scheme_and_port_too(server: str) -> None:
    # The request's own origin is http://127.0.0.1:PORT: the same host under another scheme
    # or port is another origin, and so is anything that is not http(s).
    host = server.removeprefix("http://")
    async with httpx.AsyncClient() as http:
        url = f"{server}/open/negotiate"
        assert (await http.post(url, json={}, headers={"origin": server})).status_code == 200
        for origin in (f"https://{host}", "http://127.0.0.1:1", f"chrome-extension://{host}"):
            refused = await http.post(url, json={}, headers={"origin": origin})
            assert (refused.status_code, refused.json()["code"]) == (403, 1008), origin


async def test_dns_rebinding_is_refused_once_public_origins_are_set(server: str) -> None:
    # A page of evil.example whose name now resolves to this server: its Host and its Origin
    # agree, so a same-Host comparison lets it in; the configured public origin does not.
    port = server.rsplit(":", 1)[1]
    rebound = {"host": f"evil.example:{port}", "origin": f"http://evil.example:{port}"}
    async with httpx.AsyncClient() as http:
        assert (
            await http.post(f"{server}/open/negotiate", json={}, headers=rebound)
        ).status_code == 200
        refused = await http.post(f"{server}/public/negotiate", json={}, headers=rebound)
        assert refused.status_code == 403
        behind_a_proxy = {"host": "10.0.0.5:8000", "origin": "https://app.example"}
        allowed = await http.post(f"{server}/public/negotiate", json={}, headers=behind_a_proxy)
        assert allowed.status_code == 200  # whatever Host a proxy sends


async def test_an_origin_refusal_says_what_was_compared_and_is_logged(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="realtime")
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{server}/open/negotiate", headers={"origin": "https://evil.example"}
        )
    reason = refused.json()["error"]
    assert "https://evil.example" in reason and f"this app's ({server}" in reason
    assert "allowed_origins" in reason
    (line,) = [r.getMessage() for r in caplog.records if "refused a request" in r.getMessage()]
    assert "'https://evil.example'" in line and "public_origins" in line
