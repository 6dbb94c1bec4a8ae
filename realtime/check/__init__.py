"""``realtime check URL``: which transports work between here and a deployed server, and why
the others do not.

The clients fall back from one transport to the next without a word, so a proxy that drops
WebSocket upgrades or buffers event streams goes unnoticed until someone wonders why every
page long-polls. This command opens each transport by itself, over the network path it runs
on, and says what it saw::

    $ realtime check https://example.com/realtime
    negotiate: ok (HTTP 200 in 31 ms; offers websocket, sse, longpoll)
    websocket: upgrade refused (HTTP 426, a proxy dropped the Upgrade header?)
    sse: stream buffered (headers arrived, no data within 3 s)
    longpoll: ok (hello in 12 ms)
    1 of 3 transports work: clients will use longpoll

A transport works once the server's hello has come through it, as for the clients; the SSE
and long-polling checks also POST an empty batch upstream. The checks share one session,
taken over by each transport in turn and closed (code 1000) at the end. Every request carries
an ``Origin`` header, by default the URL's own origin, as a page of the same site sends it: a
proxy that does not pass the ``Host`` header on makes the server refuse browsers (403), and
this check with them. The exit status is 0 when at least one transport works.

The parts without I/O (:func:`endpoints`, :class:`SSEProbe`, the explanations and the
summary) are pure functions; :func:`check` does the talking, with httpx and websockets
directly: the Python client would hide failures by falling back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin, Subprotocol

from realtime.check.explain import (
    describe,
    explain_first_frame,
    explain_refusal,
    explain_unreachable,
    explain_upgrade_refusal,
)
from realtime.exceptions import ProtocolError
from realtime.protocol.batch import decode_batch
from realtime.protocol.codes import CloseCode
from realtime.protocol.frames import Close, encode_frame
from realtime.protocol.negotiate import encode_request
from realtime.protocol.sse import SSEParser, frame_from_event_data
from realtime.types import TRANSPORT_NAMES, TransportName

__all__ = [
    "Endpoints",
    "Result",
    "SSEProbe",
    "check",
    "endpoints",
    "exit_status",
    "explain_first_frame",
    "explain_refusal",
    "explain_unreachable",
    "explain_upgrade_refusal",
    "parse_header",
    "run",
    "summary",
]

TOKEN_HEADER = "x-realtime-token"
CLOSE_FRAME = encode_frame(Close(CloseCode.NORMAL_CLOSURE, "realtime check"))


# -- Without I/O ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict on one step: ``negotiate`` or a transport."""

    name: str
    ok: bool
    detail: str
    offers: tuple[str, ...] = ()
    """For ``negotiate``: the transports the server offers, best first."""

    def __str__(self) -> str:
        return f"{self.name}: ok ({self.detail})" if self.ok else f"{self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Endpoints:
    base: str
    """The mount URL, without query or trailing slash: ``https://host/realtime``."""
    websocket: str
    """The same with a ``ws`` or ``wss`` scheme."""
    origin: str
    """The URL's own origin: ``https://host`` (with the port when it is not the default)."""
    query: str
    """The URL's query string: it goes with the negotiation (for the authentication hook)."""


def endpoints(url: str) -> Endpoints:
    """Split a mount URL into what the checks need.

    Raises:
        ValueError: the URL is not an absolute http or https URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL of a realtime mount: {url!r}")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return Endpoints(
        base=base,
        websocket=socket_scheme + base.removeprefix(parts.scheme),
        origin=f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}",
        query=parts.query,
    )


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` as ``("Name", "value")``.

    Raises:
        ValueError: no colon, or an empty name.
    """
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ValueError(f"a header is 'Name: value', not {text!r}")
    return name.strip(), value.strip()


class SSEProbe:
    """Reads the start of an event stream, without I/O: feed it what arrives; ``hello`` is
    the first frame once it has come, ``verdict`` says what went wrong if it has not."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self.received = 0
        """Bytes of the body received so far."""
        self.first: str | None = None
        """The first frame of the stream."""

    def feed(self, chunk: bytes) -> bool:
        """Take a chunk of the body; True once the first frame is in."""
        self.received += len(chunk)
        for event in self._parser.feed(chunk):
            if self.first is None:
                try:
                    self.first = frame_from_event_data(event.data)
                except ValueError:
                    self.first = event.data
        return self.first is not None

    def verdict(self, timeout: float, *, ended: bool) -> str:
        """What went wrong: no first frame after ``timeout`` seconds, or when the stream
        ``ended``; the first frame was not a hello."""
        if self.first is not None:
            return explain_first_frame(self.first) or "ok"
        if ended:
            return f"stream ended before the hello ({self.received} bytes)"
        if self.received == 0:
            return f"stream buffered (headers arrived, no data within {timeout:g} s)"
        return (
            f"stream buffered (headers and {self.received} bytes arrived, "
            f"no hello within {timeout:g} s)"
        )


def summary(results: Sequence[Result]) -> str:
    """The last line of the report: how many transports work, and which clients will use
    (the first that works in the server's order of preference)."""
    offers = next((r.offers for r in results if r.name == "negotiate"), ())
    tried = [r for r in results if r.name in TRANSPORT_NAMES]
    working = [r.name for r in tried if r.ok]
    if not tried:
        return "no transport checked: clients cannot connect"
    if not working:
        return f"none of {len(tried)} transports works"
    best = next((name for name in offers if name in working), working[0])
    return f"{len(working)} of {len(tried)} transports work: clients will use {best}"


def exit_status(results: Sequence[Result]) -> int:
    """0 when at least one transport works, else 1."""
    return 0 if any(r.ok and r.name in TRANSPORT_NAMES for r in results) else 1


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- With I/O ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Session:
    sid: str
    token: str
    transports: tuple[str, ...]
    ticket: str | None
    """The negotiation's ticket, for the event stream's URL (as a browser's EventSource)."""

    def query(self, **params: object) -> str:
        return urlencode({"sid": self.sid, **params})

    @property
    def subprotocols(self) -> list[Subprotocol]:
        """What a browser's WebSocket offers: the token rides as a subprotocol, not in the
        URL (PROTOCOL.md section 5)."""
        return [Subprotocol("realtime"), Subprotocol(f"realtime-token.{self.token}")]


class _Checker:
    """The checks of one run; ``http`` carries the headers (Origin included) and timeouts."""

    def __init__(
        self,
        where: Endpoints,
        http: httpx.AsyncClient,
        headers: dict[str, str],
        origin: str | None,
        timeout: float,
    ) -> None:
        self.where = where
        self.http = http
        self.headers = headers
        self.origin = origin
        self.timeout = timeout

    async def negotiate(self, wanted: Sequence[str]) -> tuple[Result, _Session | None]:
        query = f"?{self.where.query}" if self.where.query else ""
        body = encode_request(wanted)
        start = time.perf_counter()
        try:
            response = await self.http.post(f"{self.where.base}/negotiate{query}", json=body)
        except httpx.TimeoutException:
            return Result("negotiate", False, f"no answer within {self.timeout:g} s"), None
        except httpx.HTTPError as exc:
            why = explain_unreachable(exc, self.where.base)
            return Result("negotiate", False, why), None
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            why = explain_refusal(response.status_code, response.content, negotiation=True)
            return Result("negotiate", False, why), None
        try:
            answer = response.json()
            transports = tuple(answer["transports"])
            session = _Session(answer["sid"], answer["token"], transports, answer.get("ticket"))
        except (ValueError, KeyError, TypeError):
            why = "not a realtime server (the answer is not a negotiation)"
            return Result("negotiate", False, why), None
        offers = ", ".join(session.transports) or "nothing"
        detail = f"HTTP 200 in {_ms(elapsed)}; offers {offers}"
        return Result("negotiate", True, detail, session.transports), session

    async def websocket(self, session: _Session, *, close: bool) -> Result:
        url = f"{self.where.websocket}/websocket?{session.query(last=0)}"
        start = time.perf_counter()
        upgraded = False
        try:
            async with asyncio.timeout(self.timeout):
                async with ws_connect(
                    url,
                    origin=Origin(self.origin) if self.origin is not None else None,
                    additional_headers=self.headers,
                    subprotocols=session.subprotocols,
                    open_timeout=None,  # the timeout above bounds the whole check
                    close_timeout=1,
                ) as socket:
                    upgraded = True
                    try:
                        first = await socket.recv()
                    except ConnectionClosed as exc:
                        code = exc.rcvd.code if exc.rcvd else 1006
                        return Result("websocket", False, f"closed before the hello (code {code})")
                    elapsed = time.perf_counter() - start
                    if isinstance(first, bytes):
                        first = first.decode("utf-8", "replace")
                    if (why := explain_first_frame(first)) is not None:
                        return Result("websocket", False, why)
                    if close:
                        await socket.send(CLOSE_FRAME)
                    return Result("websocket", True, f"hello in {_ms(elapsed)}")
        except TimeoutError:
            if upgraded:
                why = f"upgraded, but no hello within {self.timeout:g} s (a proxy holds frames?)"
            else:
                why = f"no answer to the upgrade within {self.timeout:g} s"
            return Result("websocket", False, why)
        except InvalidStatus as exc:
            return Result("websocket", False, explain_upgrade_refusal(exc.response.status_code))
        except InvalidHandshake as exc:
            return Result("websocket", False, f"handshake failed ({describe(exc)})")
        except OSError as exc:
            return Result("websocket", False, f"cannot connect ({describe(exc)})")

    async def sse(self, session: _Session) -> Result:
        url = f"{self.where.base}/sse?{session.query(ticket=session.ticket or '', last=0)}"
        probe = SSEProbe()
        start = time.perf_counter()
        headers_arrived = ended = False
        try:
            async with asyncio.timeout(self.timeout):
                request = self.http.stream("GET", url, headers={"accept": "text/event-stream"})
                async with request as response:
                    headers_arrived = True
                    if response.status_code != 200:
                        body = await response.aread()
                        return Result("sse", False, explain_refusal(response.status_code, body))
                    kind = response.headers.get("content-type", "")
                    if not kind.startswith("text/event-stream"):
                        why = f"not an event stream (content-type {kind or 'missing'})"
                        return Result("sse", False, why)
                    async for chunk in response.aiter_bytes():
                        if probe.feed(chunk):
                            break
                    else:
                        ended = True
        except (TimeoutError, httpx.TimeoutException):
            if not headers_arrived:
                return Result("sse", False, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Result("sse", False, f"cannot connect ({describe(exc)})")
        elapsed = time.perf_counter() - start
        verdict = probe.verdict(self.timeout, ended=ended)
        if verdict != "ok":
            return Result("sse", False, verdict)
        return await self._upstream("sse", session, f"hello in {_ms(elapsed)}")

    async def longpoll(self, session: _Session) -> Result:
        url = f"{self.where.base}/longpoll?{session.query(last=0, open=1)}"
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.http.get(url, headers={TOKEN_HEADER: session.token})
        except (TimeoutError, httpx.TimeoutException):
            why = f"no answer within {self.timeout:g} s (the first poll is answered at once)"
            return Result("longpoll", False, why)
        except httpx.HTTPError as exc:
            return Result("longpoll", False, f"cannot connect ({describe(exc)})")
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            why = explain_refusal(response.status_code, response.content)
            return Result("longpoll", False, why)
        try:
            frames = decode_batch(response.content)
        except ProtocolError:
            return Result("longpoll", False, "protocol error (the answer is not a batch)")
        if not frames:
            return Result("longpoll", False, "protocol error (an empty first answer)")
        if (refusal := explain_first_frame(frames[0])) is not None:
            return Result("longpoll", False, refusal)
        return await self._upstream("longpoll", session, f"hello in {_ms(elapsed)}")

    async def _upstream(self, name: str, session: _Session, detail: str) -> Result:
        """Frames come down: check that a POST goes up too (an empty batch changes nothing)."""
        why = await self.post(name, session, [])
        if why is not None:
            return Result(name, False, f"{detail}, but the POST up was {why}")
        return Result(name, True, detail)

    async def post(self, path: str, session: _Session, frames: list[str]) -> str | None:
        """POST a batch upstream; None when it went through, else why not."""
        try:
            response = await self.http.post(
                f"{self.where.base}/{path}?sid={session.sid}",
                content=json.dumps(frames),
                headers={"content-type": "application/json", TOKEN_HEADER: session.token},
            )
        except httpx.HTTPError as exc:
            return f"lost ({describe(exc)})"
        if response.status_code != 200:
            return explain_refusal(response.status_code, response.content)
        return None


async def check(
    url: str,
    *,
    transports: Sequence[TransportName] = TRANSPORT_NAMES,
    headers: dict[str, str] | None = None,
    origin: str | None = "",
    timeout: float = 3.0,
) -> AsyncIterator[Result]:
    """Check the realtime mount at ``url``: yield the negotiation's result, then each
    transport's, as they come.

    Args:
        url: The mount URL, e.g. ``https://example.com/realtime``; its query string goes with
            the negotiation, for the app's authentication hook.
        transports: The transports to check, in this order.
        headers: Headers for every request (a cookie, ``Authorization``).
        origin: The ``Origin`` header: ``""`` for the URL's own origin, None for none.
        timeout: Seconds each step has: to negotiate, or for a transport's hello to come.

    Raises:
        ValueError: ``url`` is not an http(s) URL.
    """
    where = endpoints(url)
    headers = dict(headers or {})
    if origin is not None:
        origin = origin or where.origin
    every = {**headers, "origin": origin} if origin is not None else headers
    async with httpx.AsyncClient(headers=every, timeout=httpx.Timeout(timeout)) as http:
        checker = _Checker(where, http, headers, origin, timeout)
        negotiated, session = await checker.negotiate(transports)
        yield negotiated
        if session is None:
            return
        upstream = next((t for t in session.transports if t in ("sse", "longpoll")), None)
        for name in transports:
            if name not in session.transports:
                yield Result(name, False, "not offered by the server")
            elif name == "websocket":
                yield await checker.websocket(session, close=upstream is None)
            elif name == "sse":
                yield await checker.sse(session)
            else:
                yield await checker.longpoll(session)
        if upstream is not None:  # end the session now rather than at its expiry
            await checker.post(upstream, session, [CLOSE_FRAME])


async def run(
    url: str,
    *,
    transports: Sequence[TransportName] = TRANSPORT_NAMES,
    headers: dict[str, str] | None = None,
    origin: str | None = "",
    timeout: float = 3.0,
) -> int:
    """Print the report of :func:`check` line by line, then the summary; return the exit
    status (0 when at least one transport works)."""
    results: list[Result] = []
    report = check(url, transports=transports, headers=headers, origin=origin, timeout=timeout)
    async for result in report:
        print(result, flush=True)
        results.append(result)
    print(summary(results))
    return exit_status(results)
