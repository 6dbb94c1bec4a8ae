"""Speaking the wire protocol by hand, for tests of what the clients never send."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from realtime.protocol.batch import encode_batch

__all__ = ["RawSession", "hello_ack", "negotiate"]


def hello_ack(frame: str | bytes) -> int:
    """The ``ack`` of a hello frame; it must also hand out the next connections' token."""
    assert isinstance(frame, str) and frame.startswith("h"), frame
    fields = json.loads(frame[1:])
    assert isinstance(fields.get("token"), str), frame
    ack: int = fields["ack"]
    return ack


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

    @property
    def headers(self) -> dict[str, str]:
        """The token's header, for a GET (a POST's are set by :meth:`post`)."""
        return {"x-realtime-token": self.token}

    async def ticket(self, http: httpx.AsyncClient) -> str:
        """A single-use ticket, for a URL that must carry a credential (an event stream's)."""
        response = await http.post(
            self.url("ticket"), headers={**self.headers, "content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        ticket: str = response.json()["ticket"]
        return ticket

    async def poll(self, http: httpx.AsyncClient, last: int = 0, **params: object) -> list[str]:
        url = self.url("longpoll", last=last, **params)
        response = await http.get(url, headers=self.headers)
        assert response.status_code == 200, response.text
        frames: list[str] = json.loads(response.content)
        return frames

    def websocket(self, token: str | None = None, last: int = 0) -> ClientConnection:
        """A WebSocket of the session, the token in its header."""
        url = "ws" + self.url("websocket", last=last).removeprefix("http")
        headers = {"x-realtime-token": token or self.token}
        return ws_connect(url, max_size=None, additional_headers=headers)  # type: ignore[return-value]


async def negotiate(http: httpx.AsyncClient, base: str) -> RawSession:
    answer = (await http.post(f"{base}/negotiate", json={})).json()
    return RawSession(base, answer["sid"], answer["token"])
