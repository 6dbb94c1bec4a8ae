"""A minimal HTTP/1.1 client on asyncio streams: keep-alive requests and streamed bodies.

The same code serves every system's SSE streams, polls and POSTs, so that HTTP costs the
load generator the same whoever the server is. One request at a time per connection; every
request is counted in the connection's :class:`Counter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Counter", "HTTPConnection", "HTTPError", "Response", "SSEParser"]

MAX_HEAD = 64 * 1024


class HTTPError(Exception):
    """A malformed or unexpected HTTP answer."""


@dataclass(slots=True)
class Counter:
    """Requests made by the clients of one measurement (load generator side)."""

    requests: int = 0


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    def text(self) -> str:
        return self.body.decode()


@dataclass(slots=True)
class HTTPConnection:
    host: str
    port: int
    counter: Counter = field(default_factory=Counter)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _streaming: bool = False

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEAD
            )
        assert self._reader is not None
        return self._reader, self._writer

    def _send_head(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        body: bytes,
        headers: Mapping[str, str] | None,
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        if headers:
            lines.extend(f"{name}: {value}" for name, value in headers.items())
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.counter.requests += 1

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read the whole answer (Content-Length or chunked)."""
        if self._streaming:
            raise RuntimeError("this connection carries a stream")
        reused = self._writer is not None and not self._writer.is_closing()
        reader, writer = await self._connect()
        self._send_head(writer, method, target, body, headers)
        try:
            status, response_headers = await _read_head(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server closed the idle keep-alive connection: once more on a new one.
            self.close()
            reader, writer = await self._connect()
            self._send_head(writer, method, target, body, headers)
            status, response_headers = await _read_head(reader)
        response = Response(status, response_headers)
        if status not in (204, 304) and method != "HEAD":
            response.body = b"".join([chunk async for chunk in self._body(response_headers)])
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return response

    async def stream(self, target: str, headers: Mapping[str, str] | None = None) -> Response:
        """Send a GET whose answer is a stream; read its body with :meth:`chunks`."""
        reader, writer = await self._connect()
        self._send_head(writer, "GET", target, b"", headers)
        status, response_headers = await _read_head(reader)
        self._streaming = True
        return Response(status, response_headers)

    def chunks(self, response: Response) -> AsyncIterator[bytes]:
        return self._body(response.headers)

    async def _body(self, headers: dict[str, str]) -> AsyncIterator[bytes]:
        reader = self._reader
        assert reader is not None
        length = headers.get("content-length")
        if length is not None:
            if int(length):
                yield await reader.readexactly(int(length))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers are sent to us
                    return
                chunk = await reader.readexactly(size + 2)
                yield chunk[:-2]
        else:
            while data := await reader.read(65536):
                yield data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._streaming = False


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise HTTPError("response head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HTTPError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class SSEParser:
    """Incremental ``text/event-stream`` parser: bytes in, the ``data`` of each event out."""

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        events: list[str] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append((value[1:] if value.startswith(b" ") else value).decode())
        return events
