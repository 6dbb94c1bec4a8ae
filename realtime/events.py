"""Events and calls, the same on the server (:class:`~realtime.Session`) and in the Python
client (:class:`~realtime.client.Connection`).

Both sides read one ordered stream of messages from their peer; a :class:`Router` sorts it
into raw messages (for ``receive``), events and calls (for ``events()``, or for a handler
registered with ``on``) and replies (for the ``call`` that waits for them). Whoever waits
reads for everyone: a ``call`` waiting for its reply reads, and routes, what comes before it.

The rule for a kind the application does not read: at most ``limit`` messages of each kind
(the window, ``max_queue``) wait in the router.

- A kind the application reads (it called ``receive``, or ``events``/``next_event``, or
  registered an ``on`` handler) waits for it past that as long as it takes: the router stops
  reading, so the peer's window fills and its sends wait (backpressure, as for messages).
- A kind the application never asked for ends the session, past ``limit``, with 1003
  (UNSUPPORTED_DATA) and a reason that names the kind: it is never dropped silently, and it
  never stalls the kind the application reads.

Memory stays bounded either way. Replies never wait: one that answers no pending call (it
came after its call timed out) is dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.exceptions import InvalidState, RealtimeError
from realtime.protocol.events import (
    Envelope,
    Reply,
    encode_call,
    encode_event,
    encode_reply,
    parse_envelope,
)
from realtime.types import Message
from realtime.wakeup import Signal

__all__ = ["Answer", "CallError", "CallTimeout", "Event", "Handler", "Router"]

logger = logging.getLogger("realtime")

Answer = Callable[[Envelope], Awaitable[None]]
Handler = Callable[[Any], Any]
"""What ``on(name, handler)`` takes: ``handler(data)``, sync or async; for a call, what it
returns (or raises) is the reply."""


class CallError(RealtimeError):
    """The peer answered a call with an error (its handler raised, or replied with one)."""


class CallTimeout(RealtimeError, TimeoutError):
    """A call got no reply in time (the caller's ``timeout``)."""


class Event:
    """An event from the peer: ``name`` and JSON ``data``; a call when ``id`` is set, which
    :meth:`reply` (or :meth:`fail`) answers once."""

    __slots__ = ("_answer", "_answered", "data", "id", "name")

    def __init__(self, name: str, data: Any, call_id: int | None, answer: Answer) -> None:
        self.name = name
        self.data = data
        self.id = call_id
        self._answer = answer
        self._answered = False

    def __repr__(self) -> str:
        kind = "call" if self.id is not None else "event"
        return f"<{kind} {self.name!r} {self.data!r}>"

    @property
    def is_call(self) -> bool:
        return self.id is not None

    async def reply(self, result: Any = None) -> None:
        """Answer the call with ``result`` (JSON). Raises ``InvalidState`` if this event is
        not a call or was answered already, ``TypeError`` if ``result`` is not JSON."""
        await self._send(encode_reply(self._call_id(), result))

    async def fail(self, message: str) -> None:
        """Answer the call with an error: the caller's ``call`` raises ``CallError(message)``
        (the JS client's promise rejects with it)."""
        await self._send(encode_reply(self._call_id(), error=message))

    def _call_id(self) -> int:
        if self.id is None:
            raise InvalidState(f"event {self.name!r} is not a call: there is nothing to answer")
        if self._answered:
            raise InvalidState(f"call {self.name!r} was answered already")
        return self.id

    async def _send(self, envelope: Envelope) -> None:
        self._answered = True
        await self._answer(envelope)


class Router:
    """Sorts a peer's messages for one session; see the module docstring.

    Args:
        take: waits for and returns the next message from the peer (raises ``SessionClosed``
            when the session is over).
        send: sends one message to the peer (events, calls and replies go through it).
        limit: the most messages of one kind that wait unread.
        refuse: ends the session with 1003 and a reason (a kind nobody reads overflowed).
    """

    def __init__(
        self,
        take: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
        limit: int,
        refuse: Callable[[str], Awaitable[None]],
    ) -> None:
        self._take = take
        self._send = send
        self._refuse = refuse
        self.read_raw = False  # whether the application asked for raw messages...
        self._read_events = False  # ...or for events
        self.limit = max(1, limit)
        self.raw: deque[Message] = deque()
        self.events: deque[Event] = deque()
        self.handlers: dict[str, Handler] = {}
        self._calls: dict[int, asyncio.Future[Reply]] = {}
        self._next_id = secrets.randbits(31)  # a restarted handler does not reuse ids
        self._held: Message | None = None  # read, but its kind's queue was full
        self.reading = False
        self._error: BaseException | None = None
        self._changed = Signal()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- Reading --------------------------------------------------------------------------

    async def until(self, ready: Callable[[], bool]) -> None:
        """Read and route the peer's messages until ``ready()``; raises what ended the
        session once nothing it waits for can come."""
        while not ready():
            if self._held is not None:
                if self._route(self._held):
                    self._held = None
                    self._changed.notify()
                    continue
            elif self._error is not None:
                raise self._error
            elif not self.reading:
                await self._read_one()
                continue
            await self._changed.wait()

    async def _read_one(self) -> None:
        self.reading = True
        try:
            item = await self._take()
        except asyncio.CancelledError:
            self.finished()
            raise
        except BaseException as exc:
            self.finished(error=exc)
            return
        self.finished(item)

    def finished(self, item: Message | None = None, error: BaseException | None = None) -> None:
        """A read of the peer's messages ended, with ``item``, ``error``, or neither (it was
        cancelled). Public for a reader that began before this router existed."""
        self.reading = False
        if error is not None:
            self._error = error
            for future in self._calls.values():
                if not future.done():
                    future.set_exception(error)
        elif item is not None and not self._route(item):
            self._held = item
        self._changed.notify()

    def _route(self, item: Message) -> bool:
        """File ``item``; False when its kind's queue is full (the caller holds it)."""
        if type(item) is not Envelope:
            if len(self.raw) >= self.limit:
                return self._overflow(self.read_raw, "raw messages")
            self.raw.append(item)
            return True
        message = parse_envelope(item)
        if isinstance(message, Reply):
            future = self._calls.pop(message.id, None)
            if future is not None and not future.done():
                future.set_result(message)
            return True
        event = Event(message.name, message.data, message.id, self._send)
        handler = self.handlers.get(message.name)
        if handler is not None:
            self._spawn(self._dispatch(handler, event))
            return True
        if len(self.events) >= self.limit:
            return self._overflow(self._read_events or bool(self.handlers), "events")
        self.events.append(event)
        return True

    def _overflow(self, read: bool, kind: str) -> bool:
        if read:
            return False  # held until the application reads: backpressure
        reason = f"{self.limit} {kind} wait and the application reads none"
        self._spawn(self._refuse(reason))
        return True  # dropped with the session, which ends with 1003

    async def next_raw(self) -> Message:
        self.read_raw = True
        await self.until(lambda: bool(self.raw))
        data = self.raw.popleft()
        self._changed.notify()  # room for a held message
        return data

    async def next_event(self) -> Event:
        self._read_events = True
        await self.until(lambda: bool(self.events))
        event = self.events.popleft()
        self._changed.notify()
        return event

    # -- Handlers -------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, handler: Handler, event: Event) -> None:
        try:
            result = handler(event.data)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            if event.id is None:
                logger.exception("handler of event %r raised", event.name)
            else:
                await event.fail(str(exc) or type(exc).__name__)
            return
        if event.id is not None and not event._answered:
            await event.reply(result)

    async def pump(self) -> None:
        """Read for the handlers registered with ``on`` while nobody else reads: until the
        session ends (then return)."""
        try:
            await self.until(lambda: False)
        except Exception:
            if self._error is None:
                raise

    # -- Calls ----------------------------------------------------------------------------

    async def emit(self, name: str, data: Any) -> None:
        await self._send(encode_event(name, data))

    async def call(self, name: str, data: Any, timeout: float | None) -> Any:
        """Call the peer's handler of ``name``; its reply, or ``CallError``/``CallTimeout``."""
        self._next_id = call_id = (self._next_id + 1) % 2**53
        envelope = encode_call(name, data, call_id)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = future
        try:
            async with asyncio.timeout(timeout):
                await self._send(envelope)
                await self.until(future.done)
        except TimeoutError:
            raise CallTimeout(f"call {name!r} got no reply within {timeout} s") from None
        finally:
            self._calls.pop(call_id, None)
        reply = future.result()
        if reply.error is not None:
            raise CallError(reply.error)
        return reply.result

    async def aclose(self) -> None:
        """Cancel the handlers still running (but the caller)."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
