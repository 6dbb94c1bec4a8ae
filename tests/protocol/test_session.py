from __future__ import annotations

import sys

import pytest

from realtime.exceptions import BufferFull, InboxFull, ProtocolError, RateLimited, ReplayGap
from realtime.protocol.session import SessionState, SessionStatus


def new(now: float = 0.0, **limits: int | None) -> SessionState:
    return SessionState(
        now=now,
        max_queue=limits.get("max_queue", 4),
        max_buffer_bytes=limits.get("max_buffer_bytes"),
    )


def status(state: SessionState) -> SessionStatus:
    return state.status  # through a call, so that mypy does not narrow it between asserts


def test_lifecycle_pending_attached_detached_closed() -> None:
    state = new()
    assert status(state) == SessionStatus.PENDING
    attached = state.attach("c1", "websocket", 0, now=1.0)
    assert (attached.ack, attached.replaced) == (0, None)
    assert status(state) == SessionStatus.ATTACHED
    assert state.transport == "websocket"
    assert state.detach("c1", now=2.0)
    assert status(state) == SessionStatus.DETACHED
    assert state.since == 2.0
    assert state.close(1000, "bye")
    assert not state.close(4000, "second close loses")
    assert (state.close_code, state.close_reason) == (1000, "bye")
    assert state.closed


def test_a_new_connection_replaces_the_old_one() -> None:
    state = new()
    state.attach("c1", "websocket", 0, now=1.0)
    attached = state.attach("c2", "sse", 0, now=2.0)
    assert attached.replaced == "c1"
    assert not state.detach("c1", now=3.0)  # the old one no longer owns the session
    assert status(state) == SessionStatus.ATTACHED
    assert state.transport == "sse"


def test_expiry_counts_from_the_last_detach() -> None:
    state = new(now=0.0)
    assert not state.expired(9.9, ttl=10)
    assert state.expired(10.0, ttl=10)
    state.attach("c", "longpoll", 0, now=10.0)
    assert not state.expired(100.0, ttl=10)  # attached sessions never expire
    state.detach("c", now=100.0)
    assert not state.expired(109.0, ttl=10)
    assert state.expired(110.0, ttl=10)
    state.close(1000, "")
    assert not state.expired(1000.0, ttl=10)


def test_attach_acknowledges_last_and_resumes_after_it() -> None:
    state = new()
    for i in range(3):
        state.push(f"m{i + 1}", 2)
    state.attach("c1", "websocket", 2, now=1.0)
    assert state.outbox.acked == 2
    assert state.pending(2) == [(3, "m3")]
    with pytest.raises(ReplayGap):
        state.attach("c2", "websocket", 1, now=2.0)
    with pytest.raises(ProtocolError):
        state.attach("c3", "websocket", 4, now=2.0)


def test_closed_session_still_replays_what_the_client_missed() -> None:
    state = new()
    state.push("last words", 10)
    state.close(1000, "done")
    attached = state.attach("c", "sse", 0, now=1.0)
    assert attached.ack == 0
    assert status(state) == SessionStatus.CLOSED
    assert state.pending(0) == [(1, "last words")]
    state.ack(1)
    state.detach("c", now=2.0)
    assert status(state) == SessionStatus.CLOSED


def test_outgoing_bound() -> None:
    state = new(max_queue=2)
    state.push("a", 1)
    state.push("b", 1)
    assert not state.has_room(1)
    with pytest.raises(BufferFull):
        state.push("c", 1)


def test_inbox_acknowledges_on_consumption_and_drops_duplicates() -> None:
    state = new()
    assert state.deliver(1, "one", 3, 0.0)
    assert state.deliver(2, "two", 3, 0.0)
    assert not state.deliver(1, "one again", 9, 0.0)
    assert state.inbound.received == 2
    assert state.consumed == 0
    assert state.take() == "one"
    assert state.consumed == 1
    assert state.inbox_bytes == 3
    assert state.take() == "two"
    assert state.take() is None
    assert state.consumed == 2
    assert state.attach("c", "websocket", 0, now=1).ack == 2


def test_inbox_keeps_order_through_interleaved_reads_and_lets_read_messages_go() -> None:
    state = new(max_queue=None)
    payload = "p" * 1000  # the inbox's references show in its reference count
    before = sys.getrefcount(payload)
    taken: list[str | bytes | None] = []
    seq = 0
    for burst in (1, 3, 200, 2, 150):  # bursts above and below the compaction threshold
        for _ in range(burst):
            seq += 1
            assert state.deliver(seq, f"{seq}:{payload}", 1, 0.0)
        for _ in range(burst // 2 + 1):
            taken.append(state.take())
    while (message := state.take()) is not None:
        taken.append(message)
    assert taken == [f"{i}:{payload}" for i in range(1, seq + 1)]
    assert (state.consumed, state.inbox_bytes, state.unread) == (seq, 0, 0)
    del taken, message
    same = new(max_queue=None)
    for i in range(1, 101):
        same.deliver(i, payload, 1, 0.0)
    assert sys.getrefcount(payload) == before + 100
    for _ in range(100):
        same.take()
    assert sys.getrefcount(payload) == before  # a drained inbox holds no message


def test_inbox_refuses_gaps() -> None:
    state = new()
    with pytest.raises(ProtocolError):
        state.deliver(2, "skipped one", 1, 0.0)


def test_inbox_window_count_and_bytes() -> None:
    state = new(max_queue=2, max_buffer_bytes=10)
    state.deliver(1, "x", 6, 0.0)
    with pytest.raises(InboxFull):
        state.deliver(2, "y", 5, 0.0)  # 11 bytes > 10
    state.deliver(2, "y", 4, 0.0)
    with pytest.raises(InboxFull):
        state.deliver(3, "z", 1, 0.0)  # 3 messages > 2
    assert state.inbound.received == 2  # refused messages are not taken
    state.take()
    assert state.deliver(3, "z", 1, 0.0)
    big = new(max_queue=2, max_buffer_bytes=10)
    assert big.deliver(1, "huge", 100, 0.0)  # an empty inbox takes any one message


def test_unbounded_limits() -> None:
    state = SessionState(now=0, max_queue=None)
    for i in range(1, 2001):
        state.push(i.to_bytes(2, "big"), 2)
        state.deliver(i, "m", 1, 0.0)
    assert state.has_room(10**9)
    assert state.inbox_has_room(10**9)


def test_touch_records_signs_of_life() -> None:
    state = new(now=0.0)
    state.touch(5.0)
    assert state.last_seen == 5.0
    assert state.since == 0.0  # liveness does not delay expiry of a detached session


def test_the_rate_limit_applies_to_new_messages_only() -> None:
    state = SessionState(now=0.0, max_queue=10, max_rate=1.0, max_burst=2)
    assert state.deliver(1, "a", 1, 0.0)
    assert state.deliver(2, "b", 1, 0.0)
    with pytest.raises(RateLimited):
        state.deliver(3, "c", 1, 0.0)
    assert not state.deliver(2, "b again", 1, 0.0)  # a duplicate: free
    with pytest.raises(ProtocolError):
        state.deliver(5, "a gap is a gap, not a rate problem", 1, 0.0)
    assert state.deliver(3, "c", 1, 1.0)
