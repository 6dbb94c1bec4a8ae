"""A client for an app in the same process: no server, no port, every transport.

::

    from realtime.testing import connect

    async def test_echo() -> None:
        async with connect(app, "/realtime", transport="sse") as conn:
            await conn.send("hi")
            assert await conn.receive() == "hi"

:func:`connect` runs the app's lifespan, then opens a :func:`realtime.client.connect` whose
HTTP requests and WebSockets are ASGI calls into the app: the same negotiation, frames,
fallback, acknowledgements and resume as over the network, in the test's own event loop.
Event streams and pending polls stream as they would (httpx's own ``ASGITransport`` waits for
a response to finish, which an event stream never does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from starlette.types import ASGIApp, Message
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Close

import realtime.client
from realtime.protocol.codes import ABNORMAL_CLOSURE

__all__ = ["ASGIStreamTransport", "Clients", "InProcessWebSocket", "connect", "lifespan"]

CLIENT = ("127.0.0.1", 50000)
"""The address the app sees for an in-process client."""
BASE = "http://testserver"


def _headers(raw: list[tuple[bytes, bytes]], host: str) -> list[tuple[bytes, bytes]]:
    """The request's headers as ASGI has them: names in lower case, Host first if missing."""
    lowered = [(name.lower(), value) for name, value in raw]
    if any(name == b"host" for name, _ in lowered):
        return lowered
    return [(b"host", host.encode()), *lowered]


class _Body(httpx.AsyncByteStream):
    """A response body as the app sends it, chunk by chunk."""

    def __init__(self, chunks: asyncio.Queue[bytes | None], done: asyncio.Event) -> None:
        self._chunks = chunks
        self._done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self._done.set()  # the client went away: the app's receive() says http.disconnect


class ASGIStreamTransport(httpx.AsyncBaseTransport):
    """An httpx transport that calls an ASGI app, streaming its responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        body = await request.aread()
        disconnected = asyncio.Event()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": _headers(list(request.headers.raw), url.netloc.decode()),
            "client": CLIENT,
            "server": (url.host, url.port or 80),
        }
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(message["body"])
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except BaseException as exc:
                if not started.done():
                    started.set_exception(exc)
                raise
            finally:
                chunks.put_nowait(None)
                if not started.done():
                    started.set_exception(RuntimeError("the app sent no response"))

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        start = await started
        return httpx.Response(
            start["status"],
            headers=[(bytes(k), bytes(v)) for k, v in start.get("headers", [])],
            stream=_Body(chunks, disconnected),
            request=request,
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _Abort:
    def __init__(self, websocket: InProcessWebSocket) -> None:
        self._websocket = websocket

    def abort(self) -> None:
        self._websocket.hang_up(ABNORMAL_CLOSURE, "")


class InProcessWebSocket:
    """A WebSocket into an ASGI app, with the part of ``websockets``' ``ClientConnection``
    that the client uses: ``send``, iteration, ``close``, ``close_code``, ``close_reason``."""

    def __init__(self, app: ASGIApp, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self._scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [(b"host", parts.netloc.encode()), *extra],
            "client": CLIENT,
            "server": (parts.hostname or "testserver", parts.port or 80),
            "subprotocols": [],
        }
        self._app = app
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._accepted = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self.transport = _Abort(self)
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def open(self, timeout: float) -> ClientConnection:
        self._to_app.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(timeout):
            await self._accepted
        return cast(ClientConnection, self)  # the part of its API the client uses

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._to_app.get()

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                self._accepted.set_result(None)
            elif kind == "websocket.send":
                text = message.get("text")
                self._from_app.put_nowait(text if text is not None else message.get("bytes"))
            elif kind == "websocket.close":
                code = message.get("code", 1000)
                if not self._accepted.done():
                    self._accepted.set_exception(InvalidHandshake(f"refused with {code}"))
                self._closed(code, message.get("reason") or "")

        try:
            await self._app(self._scope, receive, send)
        finally:
            if not self._accepted.done():
                self._accepted.set_exception(InvalidHandshake("the app did not accept"))
            self._closed(ABNORMAL_CLOSURE, "")

    def _closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._from_app.put_nowait(None)

    async def send(self, message: str | bytes) -> None:
        if self.close_code is not None:
            raise self._error()
        key = "text" if isinstance(message, str) else "bytes"
        self._to_app.put_nowait({"type": "websocket.receive", key: message})

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        while (message := await self._from_app.get()) is not None:
            yield message
        raise self._error()

    async def recv(self) -> str | bytes:
        message = await self._from_app.get()
        if message is None:
            self._from_app.put_nowait(None)
            raise self._error()
        return message

    def hang_up(self, code: int, reason: str) -> None:
        """The client side ends the connection: the app hears ``websocket.disconnect``."""
        if self.close_code is None:
            self._to_app.put_nowait(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
            self._closed(code, reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.hang_up(code, reason)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(self._task)

    def _error(self) -> ConnectionClosed:
        return ConnectionClosed(
            Close(self.close_code or ABNORMAL_CLOSURE, self.close_reason or ""), None
        )


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run the app's ASGI lifespan (startup, then shutdown on exit), if it has one."""
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await to_app.get()

    async def send(message: Message) -> None:
        from_app.put_nowait(message)

    async def run() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    task = asyncio.create_task(run())
    to_app.put_nowait({"type": "lifespan.startup"})
    started = asyncio.create_task(from_app.get())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():  # the app has no lifespan (it raised, as ASGI allows)
        started.cancel()
        with contextlib.suppress(BaseException):
            await task
        yield
        return
    if started.result()["type"] == "lifespan.startup.failed":
        raise RuntimeError(f"the app's startup failed: {started.result().get('message', '')}")
    try:
        yield
    finally:
        to_app.put_nowait({"type": "lifespan.shutdown"})
        async with asyncio.timeout(10):
            await task


class connect:  # used like a function, as realtime.client.connect
    """``async with connect(app, "/realtime", **options) as conn:``: a client of ``app``'s
    mount at ``path``, in-process. ``options`` are :func:`realtime.client.connect`'s."""

    def __init__(self, app: ASGIApp, path: str = "/realtime", **options: Any) -> None:
        self._app = app
        self._url = BASE + path
        self._options = options
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> realtime.client.Connection:
        app = self._app
        await self._stack.enter_async_context(lifespan(app))
        http = ASGIStreamTransport(app)
        self._stack.push_async_callback(http.aclose)

        async def websocket(
            url: str, open_timeout: float, headers: Mapping[str, str]
        ) -> ClientConnection:
            return await InProcessWebSocket(app, url, headers).open(open_timeout)

        try:
            conn = await realtime.client.connect(
                self._url, http_transport=http, websocket_connect=websocket, **self._options
            )
        except BaseException:
            await self._stack.aclose()
            raise
        self._stack.push_async_callback(conn.close)
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()


class Clients:
    """Opens in-process clients and closes, at :meth:`aclose`, every one still open (the
    ``realtime_client`` fixture of :mod:`realtime.testing.plugin`)."""

    def __init__(self) -> None:
        self._opened: list[connect] = []

    def __call__(self, app: ASGIApp, path: str = "/realtime", **options: Any) -> connect:
        client = connect(app, path, **options)
        self._opened.append(client)
        return client

    async def aclose(self) -> None:
        opened, self._opened = self._opened, []
        for client in reversed(opened):
            await client.__aexit__(None, None, None)
