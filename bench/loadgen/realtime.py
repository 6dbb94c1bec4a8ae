"""Clients speaking realtime's wire protocol (PROTOCOL.md), without realtime's own client.

Negotiate with ``POST <mount>/negotiate``, then attach a transport. Every data frame is
numbered; the client acknowledges what it read, like realtime's Python client does: after a
quarter of the server's window (``max_queue`` = 1024), or ``ACK_DELAY`` seconds after the
last message while messages keep coming but at most ``ACK_MAX_DELAY`` after the first,
whichever comes first; on long-polling each poll's ``last`` is the ack. Pings are answered.
"""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

from websockets.asyncio.client import ClientConnection

from bench.loadgen.base import Client, Refused, Target, Upstream, abort_ws, ws_connect
from bench.loadgen.http import HTTPConnection, Response, SSEParser

__all__ = ["MOUNT", "RealtimeClient", "RealtimeLongPoll", "RealtimeSSE", "RealtimeWebSocket"]

MOUNT = "/realtime"
ACK_EVERY = 256
ACK_DELAY = {"websocket": 0.05, "sse": 0.25, "longpoll": 0.0}
"""Seconds before a pending ack goes out: the delays of ``realtime.client``."""
ACK_MAX_DELAY = 1.0
JSON = {"Content-Type": "application/json"}


def _encode_batch(frames: list[str]) -> bytes:
    return json.dumps(frames).encode()


class RealtimeClient(Client):
    """Negotiation, frame handling and acknowledgements; subclasses attach a transport."""

    transport: ClassVar[str]

    def __init__(self, target: Target, session: tuple[str, str] | None = None) -> None:
        super().__init__(target)
        self.http = target.http()  # negotiation, then the POSTs of SSE and long-polling
        self.sid, self.token = session or ("", "")
        self.received = 0  # the last server message taken
        self.acked = 0
        self.sent = 0
        self.opened = asyncio.Event()
        self._ack_timer: asyncio.TimerHandle | None = None
        self._ack_first = self._ack_last = 0.0  # when the first and last message to ack came

    async def negotiate(self) -> list[str]:
        response = await self.http.request("POST", f"{MOUNT}/negotiate", b'{"v": 1}', JSON)
        if response.status != 200:
            raise Refused(f"negotiate: HTTP {response.status} {response.body!r}")
        answer = json.loads(response.body)
        self.sid, self.token = answer["sid"], answer["token"]
        transports: list[str] = answer["transports"]
        return transports

    async def open(self) -> None:
        await self.negotiate()
        await self.attach()
        # Like an idle browser pool after the server's keep-alive timeout: no connection
        # but the transport's own; the next POST (an ack) opens a new one.
        self.http.close()

    async def attach(self) -> None:
        """Open this transport on the negotiated session; return once the hello arrived."""
        raise NotImplementedError

    async def _until_open(self, reader: asyncio.Task[None]) -> None:
        """Wait for the hello, or for the connection to end first (then raise)."""
        waiter = asyncio.ensure_future(self.opened.wait())
        try:
            await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self.opened.is_set():
            raise Refused(self.failure or "the connection ended before the hello")

    @property
    def _token_header(self) -> dict[str, str]:
        return {"X-Realtime-Token": self.token}

    def on_frame(self, frame: str) -> None:
        kind = frame[0]
        if kind == "d":
            colon = frame.index(":")
            seq = int(frame[1:colon])
            if seq != self.received + 1:
                if seq > self.received:
                    self.fail(f"gap: message {seq} after {self.received}")
                return  # a duplicate after a resume
            self.received = seq
            self.sink(frame[colon + 1 :])
            self._owe_ack()
        elif kind == "h":
            self.opened.set()
        elif kind == "p":
            self.control("q")
        elif kind in "cr":
            self.fail(f"server ended the connection: {frame}")
        # "a" (the server's ack) and "q" need nothing.

    def _owe_ack(self) -> None:
        if self.received - self.acked >= ACK_EVERY:
            self._flush_ack()
            return
        loop = asyncio.get_running_loop()
        self._ack_last = loop.time()
        if self._ack_timer is None:
            self._ack_first = self._ack_last
            self._ack_timer = loop.call_later(ACK_DELAY[self.transport], self._ack_due)

    def _ack_due(self) -> None:
        loop = asyncio.get_running_loop()
        due = min(self._ack_last + ACK_DELAY[self.transport], self._ack_first + ACK_MAX_DELAY)
        if due > loop.time():  # messages keep coming: wait for more
            self._ack_timer = loop.call_at(due, self._ack_due)
        else:
            self._flush_ack()

    def _flush_ack(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self.received > self.acked and not self.closing:
            self.acked = self.received
            self.control(f"a{self.received}", ack=True)

    def control(self, frame: str, ack: bool = False) -> None:
        """Send a control frame (ack, pong) without waiting."""
        raise NotImplementedError

    def _drop_connections(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        self.http.close()


class RealtimeWebSocket(RealtimeClient):
    transport = "websocket"

    def __init__(self, target: Target, session: tuple[str, str] | None = None) -> None:
        super().__init__(target, session)
        self.ws: ClientConnection | None = None

    async def attach(self) -> None:
        query = f"sid={self.sid}&last={self.received}"
        url = self.target.ws_url(f"{MOUNT}/websocket?{query}")
        self.ws = await ws_connect(url, self._token_header)
        await self._until_open(self.spawn(self._read(self.ws)))

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            self.on_frame(message)  # type: ignore[arg-type]
        self.fail(f"websocket closed: {ws.close_code} {ws.close_reason}")

    def control(self, frame: str, ack: bool = False) -> None:
        assert self.ws is not None
        self.spawn(self.ws.send(frame))

    async def send(self, text: str) -> None:
        assert self.ws is not None
        self.sent += 1
        await self.ws.send(f"d{self.sent}:{text}")

    def _drop_connections(self) -> None:
        super()._drop_connections()
        abort_ws(self.ws)


class _RealtimeHTTP(RealtimeClient):
    """SSE and long-polling: frames go up as JSON batches by POST."""

    def __init__(self, target: Target, session: tuple[str, str] | None = None) -> None:
        super().__init__(target, session)
        self.down: HTTPConnection = target.http()
        self._upstream: Upstream | None = None

    @property
    def upstream(self) -> Upstream:
        if self._upstream is None:
            path = f"{MOUNT}/{self.transport}?sid={self.sid}"
            headers = {**JSON, **self._token_header}
            self._upstream = Upstream(self, self.http, path, headers, _encode_batch)
        return self._upstream

    def control(self, frame: str, ack: bool = False) -> None:
        if ack:
            self.upstream.push_ack(frame)
        else:
            self.upstream.push(frame)

    async def send(self, text: str) -> None:
        self.sent += 1
        self.upstream.push(f"d{self.sent}:{text}")

    def _drop_connections(self) -> None:
        super()._drop_connections()
        self.down.close()


class RealtimeSSE(_RealtimeHTTP):
    transport = "sse"

    async def attach(self) -> None:
        path = f"{MOUNT}/sse?sid={self.sid}&last={self.received}"
        headers = {"Accept": "text/event-stream", **self._token_header}
        response = await self.down.stream(path, headers)
        if response.status != 200:
            raise Refused(f"GET sse: HTTP {response.status}")
        await self._until_open(self.spawn(self._read(response)))

    async def _read(self, response: Response) -> None:
        parser = SSEParser()
        async for chunk in self.down.chunks(response):
            for data in parser.feed(chunk):
                self.on_frame(json.loads(data) if data[0] == '"' else data)
        self.fail("event stream ended")


class RealtimeLongPoll(_RealtimeHTTP):
    transport = "longpoll"

    def _poll_path(self, opening: bool) -> str:
        path = f"{MOUNT}/longpoll?sid={self.sid}&last={self.received}"
        return path + "&open=1" if opening else path

    async def attach(self) -> None:
        response = await self.down.request("GET", self._poll_path(True), b"", self._token_header)
        if response.status != 200:
            raise Refused(f"GET longpoll: HTTP {response.status}")
        for frame in json.loads(response.body):
            self.on_frame(frame)
        if not self.opened.is_set():
            raise Refused(f"no hello in the first poll: {response.body!r}")
        self.spawn(self._poll())

    async def _poll(self) -> None:
        while True:
            response = await self.down.request(
                "GET", self._poll_path(False), b"", self._token_header
            )
            if response.status != 200:
                self.fail(f"GET longpoll: HTTP {response.status} {response.body!r}")
                return
            for frame in json.loads(response.body):
                self.on_frame(frame)

    def _owe_ack(self) -> None:
        pass  # each poll's ``last`` acknowledges
