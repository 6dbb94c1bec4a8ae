"""The FastAPI example: one dependency authenticates both the realtime negotiation and the
HTTP endpoints; the handler sees the user; an endpoint publishes to the handler's room."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

import realtime.client
from realtime.client import Connection

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}


async def next_message(conn: Connection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(conn.receive(), 5))
    return message


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic alice-token"}],
    ids=["no token", "wrong token", "wrong scheme"],
)
async def test_negotiation_without_a_known_token_is_refused(
    fastapi_site: str, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(f"{fastapi_site}/realtime/negotiate", json={}, headers=headers)
        announce = await http.post(
            f"{fastapi_site}/api/announce", json={"text": "hi"}, headers=headers
        )
    assert answer.status_code == 401
    assert answer.json() == {"error": "unknown or missing token", "code": 4007}
    assert announce.status_code == 401  # the same dependency, as a FastAPI dependency


async def test_the_handler_sees_the_user_and_the_endpoint_publishes(fastapi_site: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        assert (
            await http.post(f"{fastapi_site}/realtime/negotiate", json={}, headers=ALICE)
        ).is_success
        url = f"{fastapi_site}/realtime"
        async with realtime.client.connect(url, headers=ALICE) as alice:
            assert await next_message(alice) == {"type": "welcome", "user": "alice"}
            await alice.send("hello")
            assert await next_message(alice) == {
                "type": "message",
                "user": "alice",
                "text": "hello",
            }
            answer = await http.post(
                f"{fastapi_site}/api/announce", json={"text": "lunch"}, headers=BOB
            )
            assert answer.status_code == 200
            assert answer.json()["delivered"] >= 1
            assert await next_message(alice) == {
                "type": "announcement",
                "user": "bob",
                "text": "lunch",
            }


async def test_the_announce_endpoint_validates_its_body(fastapi_site: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(f"{fastapi_site}/api/announce", json={"text": ""}, headers=BOB)
    assert answer.status_code == 422
