"""The incoming side of the Redis backend: the client's messages into the handler's inbox
(``deliver``), and out of it (``receive``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from realtime.backends.redis.codec import close_of, decode, encode, text
from realtime.backends.redis.notifier import Notifier
from realtime.exceptions import (
    InboxFull,
    OverBudget,
    ProtocolError,
    RateLimited,
    SessionClosed,
    UnknownSession,
)
from realtime.types import SessionId

__all__ = ["deliver", "receive"]

Run = Callable[..., Coroutine[Any, Any, Any]]


async def deliver(
    run: Run, session_id: SessionId, seq: int, data: str | bytes, size: int, now: float
) -> int:
    """See :meth:`Backend.deliver`."""
    kind, payload = encode(data)
    result = await run("deliver", session_id, seq, kind, payload, size, repr(now))
    status = result[0]
    if status == b"ok":
        return int(result[1])
    if status == b"unknown":
        raise UnknownSession()
    if status == b"closed":
        raise SessionClosed.create(*close_of(result[1], result[2]))
    if status == b"gap":
        raise ProtocolError(f"message {seq} arrived but {int(result[1]) + 1} was expected")
    if status == b"rate":
        raise RateLimited("more messages per second than the session's rate limit")
    if status == b"budget":
        raise OverBudget(text(result[1]))
    raise InboxFull("the client sent past its window")


async def receive(run: Run, notifier: Notifier, session_id: SessionId) -> str | bytes:
    """See :meth:`Backend.receive`: waits for the notification of a delivery."""
    watch = notifier.watch(notifier.inbox, session_id)
    try:
        while True:
            generation = watch.generation
            result = await run("take", session_id)
            status = result[0]
            if status == b"msg":
                return decode(result[1], result[2])
            if status == b"closed":
                raise SessionClosed.create(*close_of(result[1], result[2]))
            if status == b"unknown":
                raise UnknownSession()
            if watch.generation == generation:
                await watch.signal.wait()
    finally:
        notifier.unwatch(notifier.inbox, session_id, watch)
