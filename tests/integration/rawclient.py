"""Speaking the wire protocol by hand, for tests of what the clients never send."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from realtime.protocol.batch import encode_batch

__all__ = ["RawSession", "negotiate"]


@dataclass
class RawSession:
    base: str
    sid: str
    token: str

    def url(self, transport: str, **params: object) -> str:
        query = "&".join(f"{key}={value}" for key, value in {"sid": self.sid, **params}.items())
        return f"{self.base}/{transport}?{query}"

    async def post(
        self, http: httpx.AsyncClient, transport: str, frames: list[str], token: str | None = None
    ) -> httpx.Response:
        return await http.post(
            self.url(transport),
            content=encode_batch(frames),
            headers={"x-realtime-token": token or self.token, "content-type": "application/json"},
        )

    async def poll(self, http: httpx.AsyncClient, last: int = 0, **params: object) -> list[str]:
        response = await http.get(self.url("longpoll", token=self.token, last=last, **params))
        assert response.status_code == 200, response.text
        frames: list[str] = json.loads(response.content)
        return frames

    def websocket(self, token: str | None = None, last: int = 0) -> ClientConnection:
        url = self.url("websocket", token=token or self.token, last=last)
        return ws_connect("ws" + url.removeprefix("http"), max_size=None)  # type: ignore[return-value]


async def negotiate(http: httpx.AsyncClient, base: str) -> RawSession:
    answer = (await http.post(f"{base}/negotiate", json={})).json()
    return RawSession(base, answer["sid"], answer["token"])
