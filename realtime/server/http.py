"""HTTP plumbing the endpoints share: the query, bounded request bodies, disconnects."""

from __future__ import annotations

import asyncio

from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.types import Receive

from realtime.protocol.codes import CloseCode
from realtime.server.refusals import Refusal

__all__ = ["TOKEN_HEADER", "is_json", "query_of", "read_body", "watch_disconnect"]

TOKEN_HEADER = "x-realtime-token"
"""The header that carries a session's token (the ``token`` query parameter may instead)."""


def query_of(conn: HTTPConnection) -> QueryParams:
    """The request's query, parsed here rather than cached on ``conn``: a WebSocket, an event
    stream or a pending poll keeps its connection object for its whole life."""
    return QueryParams(conn.scope["query_string"])


def is_json(request: Request) -> bool:
    """Whether the request says its body is JSON (``application/json``, any parameters).

    Required of every POST: an HTML form or a cross-site ``fetch`` without a CORS preflight
    cannot send it, so no POST carries authority from another site's page."""
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def read_body(request: Request, limit: int, timeout: float | None) -> bytes | Refusal:
    """Read a request body of at most ``limit`` bytes within ``timeout`` seconds.

    The declared length is checked first and the stream as it comes, so a body over the limit
    is refused (413) before it is read in full; a client too slow to send it gets 408.
    """
    too_large = Refusal(413, CloseCode.MESSAGE_TOO_BIG, f"body larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return too_large
                chunks.append(chunk)
    except TimeoutError:
        return Refusal(408, CloseCode.POLICY_VIOLATION, f"body not received in {timeout} s")
    except ClientDisconnect:
        return Refusal(400, CloseCode.PROTOCOL_ERROR, "client disconnected mid-body")
    return b"".join(chunks)


async def watch_disconnect(receive: Receive) -> None:
    """Return when the HTTP client goes away (consumes the request body, if any)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
