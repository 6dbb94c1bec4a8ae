"""What a session keeps of its negotiation request (issue 17, row 2): the headers the app
names, the query string, at most ``max_stored_bytes``; never credentials, on either backend."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import pytest
import redis.asyncio

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def headers_of(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> object:
    answer = await http.post(f"{base}/negotiate", json={}, headers=headers)
    assert answer.status_code == 200, answer.text
    fields = answer.json()
    url = f"{base}/longpoll?sid={fields['sid']}"
    token = {"x-realtime-token": fields["token"]}
    await http.post(url, json=["d1:headers"], headers=token)
    async with asyncio.timeout(10):
        while True:
            for frame in (await http.get(f"{url}&last=0", headers=token)).json():
                if frame.startswith("d1:"):
                    return json.loads(frame[3:])


async def test_credentials_and_unnamed_headers_are_not_kept(
    server: str, request: pytest.FixtureRequest
) -> None:
    secret = secrets.token_hex(8)
    sent = {
        "authorization": f"Bearer {secret}",
        "cookie": f"sid={secret}",
        "x-test": "kept",
        "x-other": f"not kept {secret}",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        kept = await headers_of(http, f"{server}/commands", sent)
    assert kept == {"x-test": "kept"}
    if "redis" in request.node.callspec.id:  # nothing of it in Redis either
        client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
        try:
            async for key in client.scan_iter(count=1000):
                kind = await client.type(key)
                value = await client.hgetall(key) if kind == b"hash" else {}
                assert secret.encode() not in repr(value).encode(), key
        finally:
            await client.aclose()


async def test_request_data_over_its_cap_is_refused_with_431(server: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{server}/commands/negotiate?pad={'x' * 5000}", json={})
        assert (refused.status_code, refused.json()["code"]) == (431, 1009)
        assert "max_stored_bytes" in refused.json()["error"]
        # A large header the app does not keep costs the session nothing.
        big = await http.post(
            f"{server}/commands/negotiate", json={}, headers={"x-big": "y" * 10_000}
        )
        assert big.status_code == 200


def test_credentials_cannot_be_kept() -> None:
    from realtime import RealtimeApp
    from tests.integration.app import echo

    for name in ("Authorization", "cookie"):
        with pytest.raises(ValueError, match="never kept"):
            RealtimeApp(echo, keep_headers=[name])
    with pytest.raises(TypeError):
        RealtimeApp(echo, keep_headers="user-agent")
