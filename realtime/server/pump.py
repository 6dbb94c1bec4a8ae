"""The downstream pump of one streaming connection (WebSocket, SSE): which frames go out, when.

In this order: owed control frames (ack, pong, ping), the pending messages after the cursor,
then the close, or a reconnect frame when the connection must end while the session lives on.

The pump is a task, but most writes do not wait for it. While it is parked (waiting, nothing
in flight) and the backend answers without waiting (the memory backend), the task that makes
news (a handler's ``send``, a publisher, the reader taking a message that an ack will answer)
runs the pump's turn itself, at once: :meth:`Pump.write_now`. A write that would wait (the
connection stopped taking data, the ASGI server's ``send`` suspends) is not waited for there:
that task goes on at once, and the pump's own task finishes the write where it stopped,
under the write watchdog. So a message reaches a writable connection without a task switch,
and nobody but the connection's task ever waits on it.

A WebSocket's pump has no task while it is parked (:meth:`Pump.start`): its task ends when
there is nothing to do, and one starts again only when a write must wait or something only
a task may do comes (the end of the connection). An idle connection keeps no task and no
frames for its writer, only the :class:`Pump` itself.

The loop sets no timer per message: one watchdog checks the write in progress, and one alarm
wakes the pump at the protocol's next deadline. Both stay armed while deadlines only move
later (as heartbeat deadlines do with every frame); a timer that fires early just has the
pump look again.
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol

from realtime.exceptions import ReplayGap, UnknownSession
from realtime.protocol.codes import CloseCode
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import Close, Frame, Reconnect
from realtime.types import SessionId
from realtime.wakeup import Flag

if TYPE_CHECKING:
    from realtime.backends.base import Backend

__all__ = ["Pump", "StreamWriter"]

WRITE_BATCH_BYTES = 2**20
"""Bytes of messages taken from the backend per write or poll answer (one message always goes)."""

_IDLE, _MORE, _END, _PUMP = range(4)
"""What one turn of the pump left: nothing to do; more to write at once; the connection
ended; something only the pump's task may do (a turn run by another task stops there)."""


_TIMER_CONTEXT = contextvars.Context()
"""The context the pumps' alarms run in (``call_at`` copies the caller's by default, a Context
per timer that an idle connection keeps): a turn reads no context variable."""


class StreamWriter(Protocol):
    """How a streaming transport writes frames (WebSocket messages, SSE events)."""

    async def write_control(self, frames: list[Frame]) -> None: ...

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None: ...

    async def end(self, frame: Close | Reconnect, last: int = 0) -> None:
        """Write the last frame and end the connection; ``last`` is the last message written
        on it."""


class Channel(Protocol):
    """What the pump reads of its connection (:class:`realtime.server.engine.Channel`)."""

    @property
    def session_id(self) -> SessionId: ...

    @property
    def event(self) -> Flag:
        """Set when there is news: the pump looks again."""

    @property
    def ended(self) -> tuple[int, str] | None:
        """Why the connection must end while the session lives on, once it must."""


@types.coroutine
def _finish(coro: Coroutine[Any, Any, int], waiting_on: Any) -> Generator[Any, Any, int]:
    """Go on with ``coro``, which another task started and which suspended on ``waiting_on``:
    wait for that as the task would have, then run the rest here. A cancellation of this
    task reaches ``coro`` where it waits."""
    while True:
        try:
            yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation, thrown in where coro waits
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as stop:
                return int(stop.value)
        else:
            try:
                waiting_on = coro.send(None)
            except StopIteration as stop:
                return int(stop.value)


class Pump:
    """Writes one connection's frames until it ends. See the module docstring."""

    __slots__ = (
        "_alarm",
        "_alarm_at",
        "_detached",
        "_event",
        "_failed",
        "_in_flight",
        "_loop",
        "_task",
        "_timed_out",
        "_watchdog",
        "_writing_since",
        "backend",
        "channel",
        "cursor",
        "finished",
        "inline",
        "max_batch",
        "parked",
        "proto",
        "reader",
        "reader_stopped",
        "send_timeout",
        "still_alive",
        "writer",
    )

    def __init__(
        self,
        channel: Channel,
        proto: ConnectionProtocol,
        cursor: int,
        writer: StreamWriter,
        backend: Backend,
        *,
        max_batch: int,
        send_timeout: float | None,
        still_alive: Callable[[], Awaitable[bool]],
        inline: bool,
    ) -> None:
        self.channel = channel
        self.proto = proto
        self.cursor = cursor
        """The last message written on this connection."""
        self.writer = writer
        self.backend = backend
        self.max_batch = max_batch
        self.send_timeout = send_timeout
        self.still_alive = still_alive
        self.inline = inline
        """Whether other tasks may run a turn (:meth:`write_now`): the backend's ``pending``
        never waits."""
        self.parked = False
        """The pump's task waits for news with nothing in flight: a turn may run at once."""
        self._event = channel.event
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None
        self._in_flight: tuple[Coroutine[Any, Any, int], Any] | None = None
        self._failed: BaseException | None = None
        self._timed_out = False  # the watchdog cancelled the task
        self._writing_since: float | None = None  # when the write in progress began
        self._watchdog: asyncio.TimerHandle | None = None  # ends the task if that write hangs
        self._alarm: asyncio.TimerHandle | None = None  # sets the event at the next deadline...
        self._alarm_at = 0.0  # ...which is this (uvloop's handles do not say)
        self._detached = False  # started by start(): no task while parked
        self.finished: asyncio.Future[None] | None = None
        """Done when the connection ended (:meth:`start`): its outcome is the pump's."""
        self.reader: asyncio.Task[Any] | None = None
        """The connection's task reading the client (:meth:`start`): cancelled when the pump
        ends first (``reader_stopped``); the reader sets it to None once it stops reading."""
        self.reader_stopped = False

    def start(self, reader: asyncio.Task[Any] | None = None) -> asyncio.Future[None]:
        """Write until the connection ends, in tasks of the pump's own, none while parked
        when writes run inline; return :attr:`finished`. :meth:`stop` ends it early; the
        pump's end cancels ``reader``, if it still reads."""
        self.reader = reader
        self.finished = self._loop.create_future()
        self._detached = self.inline
        self._spawn()
        return self.finished

    def stop(self) -> None:
        """End a started pump: its task is cancelled, ``finished`` too."""
        if self.finished is None or self.finished.done():
            return
        if self._task is not None:
            self._task.cancel()
        else:
            self._end(asyncio.CancelledError())

    def _spawn(self) -> None:
        if self._task is None and self.finished is not None and not self.finished.done():
            self._task = self._loop.create_task(self._drive())
            self._task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never ran _drive, which ends the pump.
        if task.cancelled() and self.finished is not None and not self.finished.done():
            if self._task is task:
                self._task = None
            self._end(asyncio.CancelledError())

    async def _drive(self) -> None:
        """A started pump's task: until the connection ends, or until it parks (detached)."""
        task = self._task = asyncio.current_task()
        try:
            if not await self._pump():
                return  # parked: news starts the next task
            outcome: BaseException | None = None
        except asyncio.CancelledError as exc:
            outcome = exc
            if self._timed_out and task is not None and task.uncancel() == 0:
                outcome = TimeoutError(f"a write took longer than {self.send_timeout} s")
        except Exception as exc:
            outcome = exc
        self._end(outcome)

    def _end(self, outcome: BaseException | None) -> None:
        self._task = None
        self._cleanup()
        reader, self.reader = self.reader, None
        if reader is not None:
            self.reader_stopped = True
            reader.cancel()
        finished = self.finished
        assert finished is not None
        if outcome is None:
            finished.set_result(None)
        elif isinstance(outcome, asyncio.CancelledError):
            finished.cancel()
        else:
            finished.set_exception(outcome)

    async def run(self) -> None:
        """The pump's task: write until the connection ends. Each write is bounded by
        ``send_timeout`` (past it the write is cancelled and this raises TimeoutError): a
        client that stops reading loses its connection (it resumes later), never the
        server's memory."""
        self._task = asyncio.current_task()
        try:
            await self._pump()
        except asyncio.CancelledError:
            task = self._task
            if self._timed_out and task is not None and task.uncancel() == 0:
                raise TimeoutError(f"a write took longer than {self.send_timeout} s") from None
            raise
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self.parked = False
        if self._in_flight is not None:
            self._in_flight[0].close()
            self._in_flight = None
        for timer in (self._alarm, self._watchdog):
            if timer is not None:
                timer.cancel()

    async def _pump(self) -> bool:
        """Write until the connection ends (True), or it parks in a detached pump (False)."""
        event = self._event
        while True:
            if self._failed is not None:
                raise self._failed  # a turn run elsewhere failed to write
            in_flight = self._in_flight
            if in_flight is not None:
                self._in_flight = None
                outcome = await _finish(*in_flight)
            else:
                event.clear()
                outcome = await self._turn(False)
            if outcome == _END:
                return True
            if outcome == _MORE or event.is_set():
                continue
            self._arm_alarm()
            if self._detached:
                self._task = None
                self.parked = True
                return False
            self.parked = self.inline
            try:
                await event.wait()
            finally:
                self.parked = False

    def write_now(self) -> None:
        """News while parked: run a turn in the caller's task, up to its first wait. If it
        must wait, or finds something only the pump's task may do, that task takes over."""
        self.parked = False
        coro = self._turn(True)
        try:
            waiting_on = coro.send(None)
        except StopIteration as stop:
            if stop.value == _IDLE and not self._event.is_set():
                self._arm_alarm()
                self.parked = True
                return
        except Exception as exc:  # a write failed: the pump's task raises it
            self._failed = exc
        else:
            self._in_flight = (coro, waiting_on)
        self._event.set()
        if self._detached:
            self._spawn()

    def _arm_alarm(self) -> None:
        if self._alarm is not None and not self.proto.owes:
            return  # the other deadlines only move later than the one the alarm is set for
        deadline = self.proto.next_deadline()
        if deadline is not None and (self._alarm is None or deadline < self._alarm_at):
            if self._alarm is not None:
                self._alarm.cancel()
            # wakes like news does; in a shared empty context, not a copy per timer
            self._alarm = self._loop.call_at(deadline, self._ring, context=_TIMER_CONTEXT)
            self._alarm_at = deadline

    def _ring(self) -> None:
        # Timers clear themselves when they fire: uvloop may fire one a little early, and a
        # handle kept after firing would never wake the pump again.
        self._alarm = None
        if self._detached and self.parked:
            self.write_now()
        else:
            self._event.set()

    def _check_write(self) -> None:
        self._watchdog = None
        if self._writing_since is None or self.send_timeout is None:
            return  # idle: the next write arms the watchdog again
        late = self._writing_since + self.send_timeout
        if self._loop.time() >= late:
            if self._task is not None:  # a client that stops reading must not hold it for ever
                self._timed_out = True
                self._task.cancel()
        else:
            self._watchdog = self._loop.call_at(late, self._check_write)

    async def _turn(self, inline: bool) -> int:
        """Write what is due now. ``inline``: run by another task, which stops short of what
        may wait for something else than the connection (ending it, asking the backend)."""
        channel, writer, proto = self.channel, self.writer, self.proto
        if channel.ended is not None:
            if inline:
                return _PUMP
            await writer.end(Reconnect(*channel.ended), self.cursor)
            return _END
        try:
            pending = await self.backend.pending(
                channel.session_id, self.cursor, self.max_batch, WRITE_BATCH_BYTES
            )
        except ReplayGap as gap:
            # The client acknowledged messages this connection has not written: an older
            # connection still delivering got them to it. Nothing to resend.
            self.cursor = gap.first_available - 1
            return _MORE
        except UnknownSession as exc:  # it expired under this connection
            if inline:
                return _PUMP
            await writer.end(Close(CloseCode.SESSION_EXPIRED, str(exc)), self.cursor)
            return _END
        now = self._loop.time()
        proto.delivered(pending.ack, now)
        control = proto.due(now) if proto.owes or proto.ping_due(now) else None
        messages = pending.messages
        if control or messages:
            self._writing_since = now
            if self._watchdog is None and self.send_timeout is not None:
                self._watchdog = self._loop.call_at(now + self.send_timeout, self._check_write)
            if control:
                await writer.write_control(control)
            if messages:
                await writer.write_messages(messages)
                self.cursor = messages[-1][0]
            self._writing_since = None
            proto.sent(len(control or ()) + len(messages), now)
        if pending.close is not None:
            if inline:
                return _PUMP
            await writer.end(Close(*pending.close), self.cursor)
            return _END
        if proto.is_dead(now):
            if inline:
                return _PUMP
            if not await self.still_alive():
                reconnect = Reconnect(CloseCode.PING_TIMEOUT, "no sign of life from the client")
                await writer.end(reconnect, self.cursor)
                return _END
        return _MORE if pending.more else _IDLE
