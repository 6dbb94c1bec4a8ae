"""The in-memory backend: sessions and rooms in a dict of this process. The default.

Nothing to install and the fastest path, but sessions live and die with the process: a
client can resume only on the process that holds its session. Use a shared backend to run
several processes.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Iterable

from realtime.backends.base import (
    MAX_TICKETS,
    MAX_WAITING_TOKENS,
    TOKEN_GRACE,
    Admission,
    HandlerClaim,
    Listener,
    Pending,
    SessionInfo,
    SessionSnapshot,
)
from realtime.exceptions import BufferFull, SessionClosed, UnknownSession
from realtime.protocol.budget import Budget, Budgets
from realtime.protocol.credentials import Tickets, Tokens
from realtime.protocol.frames import CloseCode
from realtime.protocol.session import Attached, SessionState
from realtime.types import SessionId, TransportName
from realtime.wakeup import Signal

__all__ = ["MemoryBackend"]


PUBLISH_SLICE = 0.005
"""Seconds a burst of publishes may hold the event loop (when every connection takes each
message inline) before a publish lets it turn."""

_NEVER, _RUNNING, _FINISHED, _RESTARTABLE = range(4)
"""The handler's states: never claimed, running, returned or raised, released unfinished."""


class _Entry:
    __slots__ = (
        "ack_owed",
        "closed_at",
        "handler",
        "inbox_signal",
        "info",
        "listener",
        "room_signal",
        "saved",
        "state",
        "tickets",
        "tokens",
    )

    def __init__(self, info: SessionInfo, now: float, budget: Budget) -> None:
        self.info = info
        self.state = SessionState(
            now=now,
            max_queue=info.max_queue,
            max_buffer_bytes=info.max_buffer_bytes,
            max_rate=info.max_rate,
            max_burst=info.max_burst,
            budget=budget,
        )
        self.listener: Listener | None = None
        self.inbox_signal = Signal()  # the handler waits here for messages
        self.room_signal = Signal()  # senders wait here for room in the replay buffer
        self.handler = _NEVER
        self.closed_at: float | None = None  # when the reaper first saw the session closed
        self.ack_owed = False  # the handler took messages that no wake of the listener told
        self.saved: str | None = None  # the handler's state (save_state)
        self.tickets: Tickets | None = None  # once one was added
        self.tokens: Tokens | None = None  # once a token was handed out (rotate_token)

    def wake(self) -> None:
        """Tell the connection of news; that includes any ack owed."""
        self.ack_owed = False
        if self.listener is not None:
            self.listener.wake()

    def closed_error(self) -> SessionClosed:
        code = self.state.close_code
        return SessionClosed.create(code if code is not None else 1000, self.state.close_reason)


def _tell_ack(entry: _Entry) -> None:
    if entry.ack_owed:
        entry.wake()


class MemoryBackend:
    """Sessions and rooms in this process. See the module docstring."""

    def __init__(self) -> None:
        self._sessions: dict[SessionId, _Entry] = {}
        self._rooms: dict[str, set[SessionId]] = {}
        self._budgets = Budgets()  # by negotiating address: its sessions, the bytes they hold
        self._freed: dict[str | None, Signal] = {}  # senders waiting for an address's budget
        self._on_transport: Callable[[SessionId, TransportName], None] | None = None
        self._slice_end = 0.0  # when a publish must next let the event loop turn

    def __len__(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def _get(self, session_id: SessionId) -> _Entry:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSession() from None

    # -- Sessions -------------------------------------------------------------------------

    async def create(
        self,
        info: SessionInfo,
        now: float,
        max_sessions: int | None = None,
        max_per_client: int | None = None,
    ) -> Admission:
        if info.id in self._sessions:
            raise ValueError(f"session {info.id!r} exists already")
        if max_sessions is not None and len(self._sessions) >= max_sessions:
            return "server full"
        if (
            max_per_client is not None
            and info.client is not None
            and self._budgets.sessions(info.client) >= max_per_client
        ):
            return "client full"
        budget = self._budgets.join(info.client, info.max_client_bytes, info.max_total_bytes)
        self._sessions[info.id] = _Entry(info, now, budget)
        return "created"

    def _forget(self, session_id: SessionId) -> None:
        entry = self._sessions.pop(session_id)
        client = entry.info.client
        self._budgets.leave(client, entry.state.held)
        self._tell_freed(client)
        if not self._budgets.sessions(client):
            self._freed.pop(client, None)

    async def count(self, client: str | None = None) -> int:
        return len(self._sessions) if client is None else self._budgets.sessions(client)

    def held(self, client: str | None = None) -> int:
        """Bytes held in the queues of ``client``'s sessions (None: of every session)."""
        return self._budgets.held(client)

    async def info(self, session_id: SessionId) -> SessionInfo | None:
        entry = self._sessions.get(session_id)
        return None if entry is None else entry.info

    async def snapshot(self, session_id: SessionId) -> SessionSnapshot | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        state = entry.state
        return SessionSnapshot(
            int(state.status),
            state.transport,
            state.last_seen,
            state.close_code,
            state.close_reason,
        )

    async def attach(
        self,
        session_id: SessionId,
        listener: Listener,
        transport: TransportName,
        last: int,
        now: float,
    ) -> Attached:
        entry = self._get(session_id)
        attached = entry.state.attach(listener.id, transport, last, now)
        previous, entry.listener = entry.listener, listener
        if previous is not None and previous is not listener:
            previous.disconnect(CloseCode.TRANSPORT_REPLACED, "a newer connection took over")
        entry.room_signal.notify()  # ``last`` acknowledged messages
        self._tell_freed(entry.info.client)
        if self._on_transport is not None:
            self._on_transport(session_id, transport)
        return attached

    async def detach(self, session_id: SessionId, listener: Listener, now: float) -> None:
        entry = self._sessions.get(session_id)
        if entry is not None and entry.listener is listener:
            entry.listener = None
            entry.state.detach(listener.id, now)

    async def touch(self, session_id: SessionId, now: float) -> None:
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.state.touch(now)

    async def claim_handler(self, session_id: SessionId) -> HandlerClaim | None:
        entry = self._get(session_id)
        if entry.state.closed or entry.handler not in (_NEVER, _RESTARTABLE):
            return None
        claim: HandlerClaim = "start" if entry.handler == _NEVER else "restart"
        entry.handler = _RUNNING
        return claim

    async def release_handler(self, session_id: SessionId, finished: bool) -> None:
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.handler = _FINISHED if finished else _RESTARTABLE

    def watch_transports(self, callback: Callable[[SessionId, TransportName], None]) -> None:
        self._on_transport = callback

    async def orphans(self) -> list[SessionId]:
        return []

    async def close(self, session_id: SessionId, code: int, reason: str) -> bool:
        entry = self._sessions.get(session_id)
        return entry is not None and self._close(entry, code, reason)

    def _close(self, entry: _Entry, code: int, reason: str) -> bool:
        if not entry.state.close(code, reason):
            return False
        self._leave_all(entry.info.id, entry.state.rooms)
        entry.state.rooms.clear()
        entry.inbox_signal.notify()
        entry.room_signal.notify()
        entry.wake()
        return True

    async def expire(self, now: float, ttl: float) -> list[SessionId]:
        expired: list[SessionId] = []
        for session_id, entry in list(self._sessions.items()):
            state = entry.state
            if not state.closed:
                if not state.expired(now, ttl):
                    continue
                self._close(entry, CloseCode.SESSION_EXPIRED, "no connection for too long")
                expired.append(session_id)
                entry.closed_at = now - ttl  # its client is long gone: forget it at once
            elif entry.closed_at is None:
                entry.closed_at = now
            if (
                entry.handler != _RUNNING
                and state.connection is None
                and now - entry.closed_at >= ttl
            ):
                self._forget(session_id)
        return expired

    # -- Server to client -----------------------------------------------------------------

    async def push(
        self, session_id: SessionId, data: str | bytes, size: int, timeout: float | None
    ) -> None:
        entry = self._get(session_id)
        state = entry.state
        if not (state.closed or state.has_room(size)) and not await self._wait_for_room(
            entry, size, timeout
        ):
            raise BufferFull(f"no room for {timeout} s: the client does not acknowledge")
        if state.closed:
            raise entry.closed_error()
        state.push(data, size)
        entry.wake()

    async def _wait_for_room(self, entry: _Entry, size: int, timeout: float | None) -> bool:
        """Wait until the session has room for ``size`` bytes: in its window (its acks tell),
        or in its address's budget (any session of the address that frees bytes tells)."""
        state = entry.state
        client = entry.info.client
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not (state.closed or state.has_room(size)):
            if state.outbox.has_room(size):  # the budget is what is short
                signal = self._freed.get(client) or self._freed.setdefault(client, Signal())
            else:
                signal = entry.room_signal
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await signal.wait(remaining)
        return True

    def _tell_freed(self, client: str | None) -> None:
        """A session of ``client`` freed bytes of the address's budget."""
        signal = self._freed.get(client)
        if signal is not None:
            signal.notify()

    async def pending(
        self, session_id: SessionId, after: int, max_count: int | None, max_bytes: int | None
    ) -> Pending:
        state = self._get(session_id).state
        messages = state.pending(after, max_count=max_count, max_bytes=max_bytes)
        reached = messages[-1][0] if messages else after
        close = None
        if state.closed and reached == state.outbox.last_seq:
            close = (state.close_code or CloseCode.NORMAL_CLOSURE, state.close_reason)
        return Pending(messages, close, state.consumed, reached < state.outbox.last_seq)

    async def ack(self, session_id: SessionId, seq: int) -> None:
        entry = self._get(session_id)
        if entry.state.ack(seq):
            entry.room_signal.notify()
            self._tell_freed(entry.info.client)

    # -- Client to server -----------------------------------------------------------------

    async def deliver(
        self, session_id: SessionId, seq: int, data: str | bytes, size: int, now: float
    ) -> int:
        entry = self._get(session_id)
        state = entry.state
        if state.closed:
            raise entry.closed_error()
        if state.deliver(seq, data, size, now):
            entry.inbox_signal.notify()
        return state.consumed

    async def receive(self, session_id: SessionId) -> str | bytes:
        entry = self._get(session_id)
        state = entry.state
        while True:
            data = state.take()
            if data is not None:
                self._tell_freed(entry.info.client)
                if not entry.ack_owed:
                    # An ack is owed: told once this turn of the loop is over, unless a reply
                    # (a send, as most handlers make at once) tells it first.
                    entry.ack_owed = True
                    asyncio.get_running_loop().call_soon(_tell_ack, entry)
                return data
            if state.closed:
                raise entry.closed_error()
            await entry.inbox_signal.wait()

    # -- Rooms ----------------------------------------------------------------------------

    async def join(self, session_id: SessionId, room: str) -> None:
        entry = self._get(session_id)
        if entry.state.closed:
            raise entry.closed_error()
        entry.state.rooms.add(room)
        self._rooms.setdefault(room, set()).add(session_id)

    async def leave(self, session_id: SessionId, room: str) -> None:
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.state.rooms.discard(room)
        self._leave_all(session_id, (room,))

    def _leave_all(self, session_id: SessionId, rooms: Iterable[str]) -> None:
        for room in rooms:
            members = self._rooms.get(room)
            if members is not None:
                members.discard(session_id)
                if not members:
                    del self._rooms[room]

    async def rooms(self, session_id: SessionId) -> set[str]:
        entry = self._sessions.get(session_id)
        return set() if entry is None else set(entry.state.rooms)

    async def members(self, room: str) -> set[SessionId]:
        return set(self._rooms.get(room, ()))

    async def publish(
        self, room: str, data: str | bytes, size: int, exclude: SessionId | None = None
    ) -> int:
        members = self._rooms.get(room)
        if not members:
            return 0
        queued = 0
        waiting = False  # a connection's task has this message to write
        for session_id in list(members):
            if session_id == exclude:
                continue
            entry = self._sessions[session_id]
            if self._push_nowait(entry, data, size):
                queued += 1
                listener = entry.listener
                if listener is not None and getattr(listener, "busy", True):
                    waiting = True
        loop = asyncio.get_running_loop()
        if waiting or loop.time() >= self._slice_end:
            # Let those tasks write this message before the publisher queues the next: a
            # burst reaches everyone message by message, not all at once after the whole of
            # it is queued. Never a wait on a connection: one turn of the loop, whatever the
            # connections do in it. A connection that wrote the message inline, in this
            # call, is not busy; when none is, a burst yields only every PUBLISH_SLICE
            # seconds, so that the rest of the process (readers, heartbeats) still runs.
            await asyncio.sleep(0)
            self._slice_end = loop.time() + PUBLISH_SLICE
        return queued

    async def offer(self, session_id: SessionId, data: str | bytes, size: int) -> bool:
        entry = self._sessions.get(session_id)
        return entry is not None and self._push_nowait(entry, data, size)

    def _push_nowait(self, entry: _Entry, data: str | bytes, size: int) -> bool:
        state = entry.state
        if state.closed:
            return False
        try:
            state.push(data, size)
        except BufferFull as exc:
            reason = "too many unacknowledged messages"
            if state.outbox.has_room(size):  # the window had room: the budget had not
                reason = str(exc)
            self._close(entry, CloseCode.BUFFER_OVERFLOW, reason)
            return False
        entry.wake()
        return True

    async def add_ticket(
        self, session_id: SessionId, ticket_hash: str, now: float, lifetime: float
    ) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None:
            return False
        if entry.tickets is None:
            entry.tickets = Tickets(MAX_TICKETS)
        entry.tickets.add(ticket_hash, now + lifetime)
        return True

    async def rotate_token(self, session_id: SessionId, token_hash: str) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None:
            return False
        if entry.tokens is None:
            entry.tokens = Tokens(entry.info.token_hash, MAX_WAITING_TOKENS)
        entry.tokens.hand_out(token_hash)
        return True

    async def check_token(self, session_id: SessionId, token_hash: str, now: float) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None:
            return False
        if entry.tokens is None:
            return hmac.compare_digest(token_hash, entry.info.token_hash)
        return entry.tokens.check(token_hash, now, TOKEN_GRACE)

    async def use_ticket(self, session_id: SessionId, ticket_hash: str, now: float) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None or entry.tickets is None:
            return False
        return entry.tickets.use(ticket_hash, now)

    async def presence(self, room: str) -> dict[SessionId, object]:
        sessions = self._sessions
        return {
            sid: sessions[sid].info.user for sid in self._rooms.get(room, ()) if sid in sessions
        }

    # -- Handler state --------------------------------------------------------------------

    async def save_state(self, session_id: SessionId, state: str) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None:
            return False
        entry.saved = state
        return True

    async def load_state(self, session_id: SessionId) -> str | None:
        entry = self._sessions.get(session_id)
        return None if entry is None else entry.saved
