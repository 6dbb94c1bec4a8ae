"""The long-polling transport: a GET returns a batch of frames; upstream by POST.

``GET <mount>/longpoll?sid=...&token=...&last=N[&open=1]`` acknowledges every message up to
``N`` and answers, as one JSON batch, every frame queued after it; if nothing is queued it
waits up to ``poll_timeout`` and answers ``[]``. With ``open=1`` (the first poll of a
connection) it answers at once, starting with the hello, so a client learns without delay that
data flows.

One poll per session is pending at a time: a newer request (a poll, or another transport
attaching) answers the older one with a ``r4002`` frame.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.exceptions import BackendError, ProtocolError, UnknownSession
from realtime.protocol.batch import encode_batch
from realtime.protocol.buffer import ReplayGap
from realtime.protocol.frames import Close, Hello, Reconnect, encode_data, encode_frame
from realtime.transports.base import (
    BACKEND_UNAVAILABLE,
    Connection,
    Refusal,
    detach_quietly,
    find_session,
    parse_last,
    query_of,
    refuse_resume,
    watch_disconnect,
)
from realtime.types import SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["LongPollTransport"]

POLL_BATCH_BYTES = 2**20
"""Bytes of messages per poll answer (one message always goes)."""

_HEADERS = {"cache-control": "no-store"}


def batch_response(frames: list[str]) -> Response:
    return Response(encode_batch(frames), media_type="application/json", headers=_HEADERS)


class LongPollTransport:
    """ASGI endpoint of the long-poll GET."""

    def __init__(self, app: RealtimeApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        query = query_of(request)
        found = await find_session(self.app, request, query)
        last = parse_last(query.get("last"))
        opening = query.get("open") == "1"
        del query  # not kept while the poll waits
        if isinstance(found, Refusal) or isinstance(last, Refusal):
            refusal = found if isinstance(found, Refusal) else last
            assert isinstance(refusal, Refusal)
            await refusal.response()(scope, receive, send)
            return
        conn = Connection("longpoll")
        self.app._track(conn)
        response: Response
        try:
            response = batch_response(await self._poll(found.id, conn, last, opening, request))
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        finally:
            self.app._untrack(conn)
            await detach_quietly(self.app, found.id, conn)
        await response(scope, receive, send)

    async def _poll(
        self, session_id: SessionId, conn: Connection, last: int, opening: bool, request: Request
    ) -> list[str]:
        app = self.app
        backend = app.backend
        try:
            attached = await backend.attach(session_id, conn, "longpoll", last, app.clock())
        except (ReplayGap, ProtocolError, UnknownSession) as exc:
            return [encode_frame(await refuse_resume(app, session_id, exc))]
        if opening:  # a new long-polling connection; later polls only carry on
            await app._connected(session_id, conn, attached, request)
        else:
            await app._ensure_handler(session_id, "longpoll")
        frames = [encode_frame(Hello(attached.ack))] if opening else []
        pending = await backend.pending(session_id, last, app.max_batch, POLL_BATCH_BYTES)
        if not opening and not pending.messages and pending.close is None:
            await self._wait(conn, request.receive)
            if conn.ended is not None:
                return [encode_frame(Reconnect(*conn.ended))]
            pending = await backend.pending(session_id, last, app.max_batch, POLL_BATCH_BYTES)
        if pending.ack and not opening:
            frames.append(f"a{pending.ack}")
        frames.extend(encode_data(seq, data) for seq, data in pending.messages)
        if pending.close is not None:
            frames.append(encode_frame(Close(*pending.close)))
        return frames

    async def _wait(self, conn: Connection, receive: Receive) -> None:
        """Wait for news, the poll timeout, or the client going away.

        Each of them sets the connection's event: a poll costs one task (the watcher of the
        client) and one timer.
        """
        event = conn.event
        watcher = asyncio.create_task(watch_disconnect(receive))
        watcher.add_done_callback(lambda _: event.set())
        timer = asyncio.get_running_loop().call_later(self.app.poll_timeout, event.set)
        try:
            await event.wait()
        finally:
            timer.cancel()
            watcher.cancel()
