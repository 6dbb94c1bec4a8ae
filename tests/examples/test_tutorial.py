"""The tutorial's chat (docs/tutorial/src/app.py, shown in the docs as it is) works: what one
client says reaches every client in the lobby, on every transport."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import realtime.client
from realtime import TransportName

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
async def test_the_tutorial_chat_broadcasts(tutorial: str, transport: TransportName) -> None:
    url = f"{tutorial}/realtime"
    async with (
        realtime.client.connect(url, transport=transport) as alice,
        realtime.client.connect(url) as bob,
    ):
        await bob.send("bob is here")
        assert await asyncio.wait_for(bob.receive(), 5) == "bob is here"  # bob is in the lobby
        await alice.send("hello")
        heard = [await asyncio.wait_for(alice.receive(), 5)]
        if heard == ["bob is here"]:  # alice was in the lobby already
            heard.append(await asyncio.wait_for(alice.receive(), 5))
        assert heard[-1] == "hello"
        assert await asyncio.wait_for(bob.receive(), 5) == "hello"


async def test_the_tutorial_serves_its_page(tutorial: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        page = await http.get(f"{tutorial}/")
        script = await http.get(f"{tutorial}/realtime/client.js")
    assert page.status_code == 200 and 'from "/realtime/client.js"' in page.text
    assert script.status_code == 200 and "export" in script.text
