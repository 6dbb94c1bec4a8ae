"""The outgoing side of the Redis backend: connections, their numbering, acknowledgements.

A connection's session gets an :class:`~realtime.backends.redis.outbox.Outbox` in the process
that holds the connection, filled by the notifier; reads and acknowledgements are answered
from it, and its checkpoint is written to Redis every ``FLUSH_PERIOD`` when it moved (and
soon when a sender waits for room). Whatever concerns a session whose connection another
process holds, or that has none, is done by a script that numbers from the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError

from realtime.backends.base import Listener, Pending
from realtime.backends.redis.cancellation import raise_if_cancelled
from realtime.backends.redis.codec import close_of, decode, encode, limit, text
from realtime.backends.redis.notifier import Notifier
from realtime.backends.redis.outbox import CHECKPOINT_STRIDE, Outbox
from realtime.exceptions import (
    BufferFull,
    ProtocolError,
    ReplayGap,
    SessionClosed,
    UnknownSession,
)
from realtime.protocol.frames import CloseCode
from realtime.protocol.session import Attached
from realtime.types import SessionId, TransportName

__all__ = ["FLUSH_PERIOD", "Outgoing"]

logger = logging.getLogger("realtime.backends.redis")

FLUSH_PERIOD = 0.25
"""Seconds between two looks at the checkpoints due (:meth:`Outbox.due`) of the sessions
whose connection this process holds."""
FLUSH_BATCH = 200
"""Sessions per checkpoint script."""
HINTS = 10_000
"""Hints kept at most (:attr:`Outgoing.handlers_elsewhere`)."""
LINGER = 2.0
"""Seconds a long-poll's session stays attached here after its poll ended, for the next poll:
answered here, it takes the connection over in one short script; answered elsewhere, that
process's attach ends the stay (a session is detached for real once LINGER passes)."""
BUDGET_RECHECK = 0.25
"""Seconds between checks of a sender that waits for its address's byte budget: acks of the
address's other sessions free it, and no notification tells of those."""

Run = Callable[..., Coroutine[Any, Any, Any]]


class Outgoing:
    """Attach, detach, read, acknowledge and send, for one :class:`RedisBackend`."""

    def __init__(
        self,
        run: Run,
        notifier: Notifier,
        node: str,
        key_ttl: float,
        log_length: int,
        clock: Callable[[], float],
    ) -> None:
        self._run = run
        self.now = clock
        self.stride = max(1, min(CHECKPOINT_STRIDE, log_length // 4))
        self.notifier = notifier
        self.node = node
        self.key_ttl = key_ttl
        self.on_transport: Callable[[SessionId, TransportName], None] | None = None
        self._flush_soon = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._parked: dict[str, tuple[Listener, asyncio.TimerHandle]] = {}
        self.handlers_elsewhere: dict[str, float] = {}
        """Sessions whose handler ran in another process when a request of theirs came (and
        when): the claim that follows that request need not ask Redis."""
        """Long-polls' sessions staying here between polls: the last poll's listener."""
        notifier.on_overflow = self._overflowed
        notifier.on_flush = self._flush_soon.set

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="realtime-redis-flush")

    async def stop(self) -> None:
        for session_id in list(self._parked):  # no next poll here: detached for real
            listener, handle = self._parked.pop(session_id)
            handle.cancel()
            with contextlib.suppress(RedisError, OSError):
                await self._detach(SessionId(session_id), listener, self.now())
        tasks = [task for task in (self._flusher, *self._tasks) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await task
        self._flusher = None

    # -- Connections ----------------------------------------------------------------------

    async def attach(
        self,
        session_id: SessionId,
        listener: Listener,
        transport: TransportName,
        last: int,
        now: float,
    ) -> Attached:
        parked = self._parked.pop(session_id, None)
        if parked is not None:
            parked[1].cancel()
            attached = await self._reattach(session_id, parked[0], listener, transport, last, now)
            if attached is not None:
                return attached
        notifier = self.notifier
        local = notifier.outboxes.get(session_id)  # what this process knows is acknowledged
        known = (local.acked, local.acked_g) if local is not None else (0, 0)
        mark = notifier.recording()
        adopted = False
        try:
            result = await self._run(
                "attach",
                session_id,
                listener.id,
                self.node,
                transport,
                last,
                repr(now),
                round(self.key_ttl * 1000),
                *known,
            )
            status = result[0]
            if status == b"unknown":
                raise UnknownSession()
            if status == b"gap":
                raise ReplayGap(last, int(result[1]))
            if status != b"ok":
                raise ProtocolError(
                    f"resume after {last} but the last message sent is {int(result[1])}"
                )
            outbox = self._outbox(session_id, listener, transport, last, result)
            adopted = True
            previous = notifier.adopt(outbox, mark)
        finally:
            if not adopted:
                notifier.forget_mark()
        consumed, replaced_id, first = result[1:4]
        replaced = text(replaced_id) or None
        if self.on_transport is not None:
            self.on_transport(session_id, transport)
        if previous is not None and previous.listener is not listener:
            if previous.listener.id == replaced:
                previous.listener.disconnect(
                    CloseCode.TRANSPORT_REPLACED, "a newer connection took over"
                )
        return Attached(ack=int(consumed), replaced=replaced, first=bool(first))

    def _outbox(
        self,
        session_id: SessionId,
        listener: Listener,
        transport: TransportName,
        last: int,
        result: list[Any],
    ) -> Outbox:
        """The outbox an attach script's answer describes."""
        cursor, last_g, rooms, close, flat, mq, mb, away = result[4:]
        if away:
            self.handler_elsewhere(session_id)
        outbox = Outbox(
            session_id,
            listener,
            acked=last,
            acked_g=int(last_g),
            cursor=int(cursor),
            consumed=int(result[1]),
            rooms={}
            if close
            else {text(r): int(g) for r, g in zip(rooms[::2], rooms[1::2], strict=True)},
            max_count=None if int(mq) < 0 else int(mq),
            max_bytes=None if int(mb) < 0 else int(mb),
        )
        queue, directs = outbox.queue, outbox.directs
        for i in range(0, len(flat), 6):
            seq, size = int(flat[i]), int(flat[i + 4])
            queue.append((seq, int(flat[i + 1]), decode(flat[i + 2], flat[i + 3]), size))
            outbox.bytes += size
            if int(flat[i + 5]):
                directs.append(seq)
        outbox.head = queue[-1][0] if queue else last
        if close:
            outbox.end(int(close[0]), *close_of(close[1], close[2]))
        outbox.transport = transport
        outbox.written_at = asyncio.get_running_loop().time()  # the attach wrote it
        return outbox

    async def _reattach(
        self,
        session_id: SessionId,
        parked: Listener,
        listener: Listener,
        transport: TransportName,
        last: int,
        now: float,
    ) -> Attached | None:
        """The next poll of a session that stayed here: None if it must attach afresh."""
        outbox = self.notifier.outboxes.get(session_id)
        if outbox is None or outbox.listener is not parked:
            return None
        if not outbox.acked <= last <= outbox.head:  # the full attach answers it from the logs
            return None
        answer = await self._run(
            "reattach", session_id, parked.id, listener.id, self.node, transport, repr(now)
        )
        if answer[0] != b"ok":  # another process took the session over meanwhile
            return None
        outbox.listener, outbox.transport = listener, transport
        outbox.consumed = max(outbox.consumed, int(answer[1]))
        if outbox.ack(last) and outbox.waiter:
            self._flush_soon.set()
        if int(answer[2]):
            self.handler_elsewhere(session_id)
        if self.on_transport is not None:
            self.on_transport(session_id, transport)
        return Attached(ack=int(answer[1]), replaced=None, first=False)

    async def detach(self, session_id: SessionId, listener: Listener, now: float) -> None:
        outbox = self.notifier.outboxes.get(session_id)
        if (
            outbox is not None
            and outbox.listener is listener
            and outbox.transport == "longpoll"
            and outbox.close is None
            and not outbox.gone
        ):
            loop = asyncio.get_running_loop()
            handle = loop.call_later(LINGER, self._linger_ended, session_id, listener, now)
            previous = self._parked.pop(session_id, None)
            if previous is not None:
                previous[1].cancel()
            self._parked[session_id] = (listener, handle)
            return
        await self._detach(session_id, listener, now)

    def _linger_ended(self, session_id: SessionId, listener: Listener, now: float) -> None:
        parked = self._parked.get(session_id)
        if parked is not None and parked[0] is listener:
            del self._parked[session_id]
            self._spawn(self._detach(session_id, listener, now + LINGER), "detach")

    async def _detach(self, session_id: SessionId, listener: Listener, now: float) -> None:
        outbox = self.notifier.drop(session_id, listener.id)
        state: list[str | int] = ["", "", "", ""]
        rooms: list[str] = []
        if outbox is not None:
            count, size = outbox.unacked
            state = [outbox.acked, outbox.acked_g, count, size]
            rooms = sorted(outbox.rooms)
        await self._run("detach", session_id, listener.id, self.node, repr(now), *state, *rooms)

    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        task: asyncio.Task[Any] = asyncio.create_task(work, name=f"realtime-redis-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("%s failed in redis: %r", task.get_name(), task.exception())

    def handler_elsewhere(self, session_id: SessionId) -> None:
        hints = self.handlers_elsewhere
        if len(hints) > HINTS:  # hints of requests that claimed nothing: forgotten
            hints.clear()
        hints[session_id] = asyncio.get_running_loop().time()

    def gone(self, session_id: SessionId) -> UnknownSession:
        """A script found the session's keys gone: its local connection learns it too."""
        outbox = self.notifier.outboxes.get(session_id)
        if outbox is not None:
            outbox.gone = True
            outbox.listener.wake()
        return UnknownSession()

    def forget_all(self) -> list[Listener]:
        """This process lost its connections in Redis (taken for dead): the listeners."""
        for _, handle in self._parked.values():
            handle.cancel()
        self._parked.clear()
        listeners = [outbox.listener for outbox in self.notifier.outboxes.values()]
        for session_id in list(self.notifier.outboxes):
            self.notifier.drop(session_id)
        return listeners

    # -- Reading and acknowledging --------------------------------------------------------

    async def pending(
        self, session_id: SessionId, after: int, max_count: int | None, max_bytes: int | None
    ) -> Pending:
        outbox = self.notifier.outboxes.get(session_id)
        if outbox is not None:
            return outbox.pending(after, max_count, max_bytes)
        result = await self._run("pending", session_id, after, limit(max_count))
        status = result[0]
        if status == b"unknown":
            raise UnknownSession()
        if status == b"gap":
            raise ReplayGap(after, int(result[1]))
        if status == b"protocol":
            raise ProtocolError(
                f"resume after {after} but the last message sent is {int(result[1])}"
            )
        _, head, code, reason, consumed, flat = result
        messages: list[tuple[int, str | bytes]] = []
        budget = max_bytes
        for i in range(0, len(flat), 3):
            data = decode(flat[i + 1], flat[i + 2])
            if budget is not None:
                size = len(data)
                if messages and size > budget:
                    break
                budget -= size
            messages.append((int(flat[i]), data))
        reached = messages[-1][0] if messages else after
        close = close_of(code, reason) if status == b"3" and reached == int(head) else None
        return Pending(messages, close, int(consumed), reached < int(head))

    async def ack(self, session_id: SessionId, seq: int) -> None:
        outbox = self.notifier.outboxes.get(session_id)
        if outbox is not None:
            if outbox.ack(seq) and outbox.waiter:
                self._flush_soon.set()
            return
        result = int(await self._run("ack", session_id, seq, self.node))
        if result == -2:
            raise self.gone(session_id)
        if result == -1:
            raise ProtocolError(f"ack {seq} for a message never sent")

    # -- Sending --------------------------------------------------------------------------

    async def push(
        self,
        session_id: SessionId,
        data: str | bytes,
        size: int,
        timeout: float | None,
        closed_error: Callable[[SessionId], Awaitable[SessionClosed]],
    ) -> None:
        kind, payload = encode(data)
        notifier = self.notifier
        watch = None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                generation = watch.generation if watch is not None else -1
                answer = int(await self._run("push", session_id, kind, payload, size, self.node))
                if answer > 0:
                    return
                if answer == -2:
                    raise self.gone(session_id)
                if answer == -1:
                    raise await closed_error(session_id)
                if watch is None:  # full: arm the watch, then check again
                    watch = notifier.watch(notifier.room, session_id)
                    continue
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise BufferFull(f"no room for {timeout} s: the client does not acknowledge")
                if answer == -3:  # the address's budget: other sessions' acks free it, untold
                    remaining = (
                        BUDGET_RECHECK if remaining is None else min(remaining, BUDGET_RECHECK)
                    )
                if watch.generation == generation:
                    await watch.signal.wait(remaining)
        finally:
            if watch is not None:
                notifier.unwatch(notifier.room, session_id, watch)

    # -- Checkpoints and windows ----------------------------------------------------------

    def _overflowed(self, outbox: Outbox, g: int) -> None:
        """A room's message at ``g`` found the window of a local session full: it ends
        before ``g`` (its outbox did already), in Redis too."""
        reason = "too many unacknowledged messages"
        code = int(CloseCode.BUFFER_OVERFLOW)
        self._spawn(self._run("close", outbox.session_id, code, reason, g), "close")

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_soon.wait(), FLUSH_PERIOD)
            self._flush_soon.clear()
            try:
                await self.flush()
            except (RedisError, OSError):
                pass  # Redis is away: the next round writes them
            raise_if_cancelled()

    async def flush(self) -> None:
        """Write the checkpoints of the local sessions that moved."""
        now = asyncio.get_running_loop().time()
        stride = self.stride
        due = [box for box in self.notifier.outboxes.values() if box.due(now, stride)]
        for start in range(0, len(due), FLUSH_BATCH):
            batch: list[str | int] = [self.node]
            written = [(outbox, outbox.acked) for outbox in due[start : start + FLUSH_BATCH]]
            for outbox, acked in written:
                count, size = outbox.unacked
                batch += [outbox.session_id, acked, outbox.acked_g, count, size]
            moved = {text(session_id) for session_id in await self._run("flush", *batch)}
            for outbox, acked in written:
                if outbox.session_id not in moved:  # else another process holds it now
                    outbox.wrote(now, acked)
