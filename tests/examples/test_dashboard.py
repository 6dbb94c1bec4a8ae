"""The dashboard example: its background task pushes samples to every connected page."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest

import realtime.client
from examples.dashboard.app import walk
from realtime import TransportName

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_negotiation_offers_every_transport(dashboard: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(f"{dashboard}/realtime/negotiate", json={})
    assert answer.status_code == 200
    assert answer.json()["transports"] == ["websocket", "sse", "longpoll"]


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
async def test_a_client_gets_the_history_then_live_samples(
    dashboard: str, transport: TransportName
) -> None:
    url = f"{dashboard}/realtime"
    messages: list[dict[str, Any]] = []
    async with realtime.client.connect(url, transport=transport) as conn:
        async with asyncio.timeout(5):
            # The history comes first, but a sample may slip in before it.
            while len([m for m in messages if m["type"] == "sample"]) < 2:
                messages.append(json.loads(await conn.receive()))
    assert [m["type"] for m in messages].count("history") == 1
    samples = [m for m in messages if m["type"] == "sample"]
    assert samples[1]["n"] == samples[0]["n"] + 1
    assert 0.3 < samples[1]["time"] - samples[0]["time"] < 1.5, "two samples a second"
    for sample in samples:
        assert 2 <= sample["cpu"] <= 98 and 256 <= sample["memory"] <= 1024
        assert 100 <= sample["rps"] <= 5000 and sample["viewers"] >= 1


def test_the_random_walk_stays_within_its_bounds() -> None:
    rng = random.Random(1)
    value = 50.0
    for _ in range(1000):
        value = walk(value, 30, 10, 90, rng)
        assert 10 <= value <= 90
