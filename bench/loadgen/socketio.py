"""Clients speaking Engine.IO v4 / Socket.IO v5 to python-socketio, on the default namespace.

Engine.IO packets: ``0`` open, ``1`` close, ``2`` ping, ``3`` pong, ``4`` message, ``6`` noop;
a Socket.IO packet rides in a message: ``40`` connect, ``42["event",data]`` event. On
polling, one HTTP body holds several packets separated by ``\\x1e``. The server pings; the
client answers ``3``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidHandshake

from bench.loadgen.base import Client, Refused, Target, Upstream, abort_ws, ws_connect
from bench.loadgen.http import HTTPConnection

__all__ = ["EIO_PATH", "SocketIOPolling", "SocketIOWebSocket", "event_data"]

EIO_PATH = "/socket.io/?EIO=4"
SEPARATOR = "\x1e"
TEXT = {"Content-Type": "text/plain;charset=UTF-8"}


def event_data(packet: str) -> str:
    """The string argument of ``42["name","data"]`` (the bench's payloads need no escapes)."""
    return packet[packet.index('","') + 3 : -2]


def echo_packet(text: str) -> str:
    return f'42["echo","{text}"]'


class SocketIOWebSocket(Client):
    """``transport=websocket`` from the start (no polling handshake)."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.ws: ClientConnection | None = None

    async def open(self) -> None:
        self.ws = ws = await ws_connect(self.target.ws_url(f"{EIO_PATH}&transport=websocket"))
        opening = await ws.recv()
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise Refused(f"expected an open packet, got {opening!r}")
        await ws.send("40")
        while not (packet := str(await ws.recv())).startswith("40"):
            if packet.startswith(("44", "1")):
                raise Refused(f"connect refused: {packet!r}")
        self.spawn(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        async for packet in ws:
            assert isinstance(packet, str)
            if packet[:2] == "42":
                self.sink(event_data(packet))
            elif packet == "2":
                self.spawn(ws.send("3"))
            elif packet[:1] == "1" or packet[:2] == "41":
                self.fail(f"server closed the session: {packet!r}")
        self.fail(f"websocket closed: {ws.close_code}")

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(echo_packet(text))

    def _drop_connections(self) -> None:
        abort_ws(self.ws)


class SocketIOPolling(Client):
    """``transport=polling`` only: a GET per batch of packets, POSTs up."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.down: HTTPConnection = target.http()
        self.up: HTTPConnection = target.http()
        self.eio_sid = ""
        self.path = ""
        self.connected = asyncio.Event()
        self.probe_upgrade = False
        """Try the WebSocket upgrade beside polling, as the Socket.IO client does."""
        self._upstream: Upstream | None = None

    async def handshake(self) -> None:
        """The Engine.IO open: ``GET ...&transport=polling`` answers ``0{"sid": ...}``."""
        response = await self.down.request("GET", f"{EIO_PATH}&transport=polling")
        body = response.text()
        if response.status != 200 or not body.startswith("0"):
            raise Refused(f"handshake: HTTP {response.status} {body[:100]!r}")
        self.eio_sid = json.loads(body[1:])["sid"]
        self.path = f"{EIO_PATH}&transport=polling&sid={self.eio_sid}"
        self._upstream = Upstream(
            self, self.up, self.path, TEXT, lambda packets: SEPARATOR.join(packets).encode()
        )

    async def open(self) -> None:
        await self.handshake()
        if self.probe_upgrade:
            self.spawn(self._upgrade_probe())
        assert self._upstream is not None
        self._upstream.push("40")
        while not self.connected.is_set():
            await self._poll_once()
        self.spawn(self._poll())
        # Like an idle browser pool after the server's keep-alive timeout: the POST
        # connection goes once its last POST is answered; the next POST opens a new one.
        await self._upstream.idle()
        self.up.close()

    async def _poll_once(self) -> None:
        response = await self.down.request("GET", self.path)
        if response.status != 200:
            raise Refused(f"GET polling: HTTP {response.status} {response.body[:100]!r}")
        for packet in response.text().split(SEPARATOR):
            if packet[:2] == "42":
                self.sink(event_data(packet))
            elif packet == "2":
                assert self._upstream is not None
                self._upstream.push("3")
            elif packet[:2] == "40":
                self.connected.set()
            elif packet[:1] == "1" or packet[:2] in ("41", "44"):
                raise Refused(f"server closed the session: {packet!r}")

    async def _upgrade_probe(self) -> None:
        """Only the first step of an upgrade: where the WebSocket opens, it is closed again
        (the bench measures polling); where it is refused, polling goes on, as it would."""
        path = f"{EIO_PATH}&transport=websocket&sid={self.eio_sid}"
        with contextlib.suppress(InvalidHandshake, OSError, TimeoutError):
            ws = await ws_connect(self.target.ws_url(path))
            await ws.close()

    async def _poll(self) -> None:
        while True:
            await self._poll_once()

    async def send(self, text: str) -> None:
        assert self._upstream is not None
        self._upstream.push(echo_packet(text))

    def _drop_connections(self) -> None:
        self.down.close()
        self.up.close()
