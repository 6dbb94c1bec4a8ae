"""Clients of the raw Starlette app (bench.apps.raw_app): plain text, no envelope."""

from __future__ import annotations

import json
import secrets

from websockets.asyncio.client import ClientConnection

from bench.loadgen.base import Client, Refused, Target, abort_ws, ws_connect
from bench.loadgen.http import HTTPConnection, Response, SSEParser

__all__ = ["RawLongPoll", "RawSSE", "RawWebSocket"]

TEXT = {"Content-Type": "text/plain"}


class RawWebSocket(Client):
    """``/ws``: each WebSocket message is one application message."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.ws: ClientConnection | None = None

    async def open(self) -> None:
        self.ws = await ws_connect(self.target.ws_url("/ws"))
        self.spawn(self._read(self.ws))

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            self.sink(message)  # type: ignore[arg-type]
        self.fail(f"websocket closed: {ws.close_code}")

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    def _drop_connections(self) -> None:
        abort_ws(self.ws)


class _RawHTTP(Client):
    """A client id (``cid``) names the client; messages go up by ``POST /send?cid=``."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.cid = secrets.token_hex(8)
        self.down = target.http()
        self.up: HTTPConnection | None = None

    async def send(self, text: str) -> None:
        if self.up is None:
            self.up = self.target.http()
        response = await self.up.request("POST", f"/send?cid={self.cid}", text.encode(), TEXT)
        if response.status != 200:
            raise Refused(f"POST /send: HTTP {response.status}")

    def _drop_connections(self) -> None:
        self.down.close()
        if self.up is not None:
            self.up.close()


class RawSSE(_RawHTTP):
    """``GET /sse?cid=``: each event's data is one message."""

    async def open(self) -> None:
        response = await self.down.stream(f"/sse?cid={self.cid}", {"Accept": "text/event-stream"})
        if response.status != 200:
            raise Refused(f"GET /sse: HTTP {response.status}")
        self.spawn(self._read(response))

    async def _read(self, response: Response) -> None:
        parser = SSEParser()
        async for chunk in self.down.chunks(response):
            for data in parser.feed(chunk):
                self.sink(data)
        self.fail("event stream ended")


class RawLongPoll(_RawHTTP):
    """``GET /lp?cid=``: a JSON array of messages; the next poll starts at once."""

    async def open(self) -> None:
        self.spawn(self._poll())

    async def _poll(self) -> None:
        path = f"/lp?cid={self.cid}"
        while True:
            response = await self.down.request("GET", path)
            if response.status != 200:
                self.fail(f"GET /lp: HTTP {response.status}")
                return
            for message in json.loads(response.body):
                self.sink(message)
