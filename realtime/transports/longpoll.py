"""The long-polling transport: a GET returns a batch of frames; upstream by POST.

``GET <mount>/longpoll?sid=...&token=...&last=N[&open=1]`` acknowledges every message up to
``N`` and answers, as one JSON batch, every frame queued after it; if nothing is queued it
waits up to ``poll_timeout`` and answers with the ack it owes (``["a<n>"]``). With ``open=1``
(the first poll of a connection) it answers at once, starting with the hello, so a client
learns without delay that data flows.

One poll per session is pending at a time: a newer request (a poll, or another transport
attaching) answers the older one with a ``r4002`` frame.
"""

from __future__ import annotations

import asyncio
import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.exceptions import BackendError
from realtime.protocol.batch import encode_batch
from realtime.protocol.frames import Close, encode_frame
from realtime.server.engine import Channel, Engine
from realtime.server.http import query_of, watch_disconnect
from realtime.server.refusals import BACKEND_UNAVAILABLE, Refusal

__all__ = ["LongPollTransport", "batch_response"]

_HEADERS = {"cache-control": "no-store"}


def batch_response(frames: list[str]) -> Response:
    """A batch of frames (in text form) as an HTTP answer."""
    return Response(encode_batch(frames), media_type="application/json", headers=_HEADERS)


class LongPollTransport:
    """ASGI endpoint of the long-poll GET."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        request = Request(scope, receive)
        query = query_of(request)
        found = await engine.find(request, query)
        last = engine.resume_point(query.get("last"))
        opening = query.get("open") == "1"
        del query  # not kept while the poll waits
        if isinstance(found, Refusal) or isinstance(last, Refusal):
            refusal = found if isinstance(found, Refusal) else last
            assert isinstance(refusal, Refusal)
            await refusal.response()(scope, receive, send)
            return
        response: Response
        try:
            opened = await engine.open(found, "longpoll", last, request, announce=opening)
            if isinstance(opened, Close):
                response = batch_response([encode_frame(opened)])
            else:
                timeout = engine.settings.poll_timeout
                try:
                    wait = functools.partial(_wait_for_news, opened, receive, timeout)
                    response = batch_response(await engine.poll(opened, last, opening, wait))
                finally:
                    await engine.release(opened)
        except BackendError:
            response = BACKEND_UNAVAILABLE.response()
        await response(scope, receive, send)


async def _wait_for_news(channel: Channel, receive: Receive, timeout: float) -> None:
    """Wait for news, the poll timeout, or the client going away.

    The poll's own task waits on the request (which tells when the client goes away); news
    and the timeout cancel that wait (:attr:`Channel.poller`): a poll costs no task of its
    own, and one timer.
    """
    if channel.event.is_set():  # news came while the poll looked for messages
        return
    me = asyncio.current_task()
    assert me is not None
    channel.poller = me
    timer = asyncio.get_running_loop().call_later(timeout, channel.wake)
    try:
        await watch_disconnect(receive)
    except asyncio.CancelledError:
        if channel.poller is not None or me.uncancel() > 0:
            raise  # not news: the server cancelled the request
    finally:
        channel.poller = None
        timer.cancel()
