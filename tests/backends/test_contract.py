"""The backend contract: every backend gives the same answers as the session state machine.

These tests drive a backend directly (no transport, no server). They run once per backend
implementation (the ``backend`` fixture), so that a shared backend behaves exactly like the
in-memory one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from realtime.backends.base import Backend, SessionInfo
from realtime.exceptions import (
    BufferFull,
    InboxFull,
    ProtocolError,
    RateLimited,
    ReplayGap,
    SessionClosed,
    UnknownSession,
)
from realtime.protocol.frames import CloseCode
from realtime.protocol.session import SessionStatus
from realtime.types import SessionId

pytestmark = pytest.mark.anyio


async def first_steps() -> None:
    """One loop turn: the tasks just started run to their first suspension. On the memory
    backend that is the wait itself, so a task that should wait and does not is seen done; on
    Redis it is the task's first command (tests/backends/test_redis.py checks the Redis waits
    themselves, through what Redis records)."""
    await asyncio.sleep(0)


class Probe:
    """A listener that records what the backend tells it."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(4)
        self.wakes = 0
        self.disconnected: tuple[int, str] | None = None

    def wake(self) -> None:
        self.wakes += 1

    def disconnect(self, code: int, reason: str) -> None:
        self.disconnected = (code, reason)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds: a shared backend notifies asynchronously."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def new_session(
    backend: Backend, now: float = 0.0, client: str | None = "127.0.0.1", **limits: Any
) -> SessionId:
    session_id = SessionId(secrets.token_urlsafe(8))
    info = SessionInfo(
        id=session_id,
        token_hash="0" * 64,
        created=now,
        headers=(("x-a", "b"),),
        query_string="q=1",
        user={"name": "ada"},
        client=client,
        max_queue=limits.get("max_queue", 4),
        max_buffer_bytes=limits.get("max_buffer_bytes"),
        max_rate=limits.get("max_rate"),
        max_burst=limits.get("max_burst", 1),
    )
    await backend.create(info, now)
    return session_id


async def test_create_and_read_back(backend: Backend) -> None:
    session_id = await new_session(backend)
    info = await backend.info(session_id)
    assert info is not None
    assert (info.headers, info.query_string, info.user, info.client) == (
        (("x-a", "b"),),
        "q=1",
        {"name": "ada"},
        "127.0.0.1",
    )
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.status == SessionStatus.PENDING
    assert await backend.info(SessionId("unknown")) is None
    assert await backend.snapshot(SessionId("unknown")) is None


def info_for(client: str | None) -> SessionInfo:
    return SessionInfo(SessionId(secrets.token_urlsafe(8)), "0" * 64, 0.0, client=client)


async def test_concurrent_creations_never_go_past_the_caps(backend: Backend) -> None:
    answers = await asyncio.gather(
        *(backend.create(info_for("10.0.0.1"), 0.0, max_per_client=10) for _ in range(200))
    )
    assert sorted(answers).count("created") == 10
    assert set(answers) == {"created", "client full"}
    assert await backend.count("10.0.0.1") == 10
    # Other addresses are not concerned by that address's cap, but all share max_sessions.
    answers = await asyncio.gather(
        *(backend.create(info_for(f"10.0.1.{i}"), 0.0, 15, 10) for i in range(200))
    )
    assert sorted(answers).count("created") == 5 and set(answers) == {"created", "server full"}
    assert await backend.count() == 15


async def test_unknown_sessions_are_refused(backend: Backend) -> None:
    unknown = SessionId("nope")
    with pytest.raises(UnknownSession):
        await backend.attach(unknown, Probe(), "websocket", 0, 0.0)
    with pytest.raises(UnknownSession):
        await backend.push(unknown, "x", 1, 0)
    with pytest.raises(UnknownSession):
        await backend.deliver(unknown, 1, "x", 1, 0.0)
    assert not await backend.close(unknown, 1000, "")
    assert not await backend.offer(unknown, "x", 1)


async def test_push_wakes_the_listener_and_pending_resumes_after_a_number(backend: Backend) -> None:
    session_id = await new_session(backend)
    probe = Probe()
    await backend.attach(session_id, probe, "websocket", 0, 1.0)
    await backend.push(session_id, "one", 3, 0)
    await backend.push(session_id, b"two", 3, 0)
    await eventually(lambda: probe.wakes == 2)
    pending = await backend.pending(session_id, 0, None, None)
    assert (pending.messages, pending.close, pending.ack) == ([(1, "one"), (2, b"two")], None, 0)
    assert (await backend.pending(session_id, 1, None, None)).messages == [(2, b"two")]
    assert (await backend.pending(session_id, 0, 1, None)).messages == [(1, "one")]


async def test_acks_free_the_window_and_unblock_senders(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=2)
    assert await backend.claim_handler(session_id) == "start"
    await backend.push(session_id, "a", 1, 0)
    await backend.push(session_id, "b", 1, 0)
    with pytest.raises(BufferFull):
        await backend.push(session_id, "c", 1, 0)
    blocked = asyncio.create_task(backend.push(session_id, "c", 1, 5))
    await first_steps()
    assert not blocked.done()
    await backend.ack(session_id, 1)
    await asyncio.wait_for(blocked, 5)
    assert [seq for seq, _ in (await backend.pending(session_id, 1, None, None)).messages] == [2, 3]
    with pytest.raises(ProtocolError):
        await backend.ack(session_id, 9)
    with pytest.raises(ReplayGap):
        await backend.pending(session_id, 0, None, None)


async def test_push_times_out_without_acks(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=1)
    await backend.push(session_id, "a", 1, 0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BufferFull):
        await backend.push(session_id, "b", 1, 0.05)
    assert loop.time() - started >= 0.04


async def test_attach_replaces_the_previous_connection(backend: Backend) -> None:
    session_id = await new_session(backend)
    first, second = Probe(), Probe()
    assert (await backend.attach(session_id, first, "websocket", 0, 1.0)).first
    attached = await backend.attach(session_id, second, "sse", 0, 2.0)
    assert attached.replaced == first.id and not attached.first
    assert first.disconnected is not None and first.disconnected[0] == 4002
    assert second.disconnected is None
    await backend.detach(session_id, first, 3.0)  # too late: no effect
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None
    assert (snapshot.status, snapshot.transport) == (SessionStatus.ATTACHED, "sse")
    await backend.detach(session_id, second, 4.0)
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.status == SessionStatus.DETACHED


async def test_attach_acknowledges_and_checks_the_resume_point(backend: Backend) -> None:
    session_id = await new_session(backend)
    for text in ("a", "b", "c"):
        await backend.push(session_id, text, 1, 0)
    await backend.attach(session_id, Probe(), "longpoll", 2, 1.0)
    assert (await backend.pending(session_id, 2, None, None)).messages == [(3, "c")]
    with pytest.raises(ReplayGap):
        await backend.attach(session_id, Probe(), "longpoll", 1, 2.0)
    with pytest.raises(ProtocolError):
        await backend.attach(session_id, Probe(), "longpoll", 4, 2.0)


async def test_deliver_dedupes_refuses_gaps_and_acks_on_consumption(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=2)
    probe = Probe()
    await backend.attach(session_id, probe, "websocket", 0, 1.0)
    assert await backend.deliver(session_id, 1, "one", 3, 0.0) == 0
    assert await backend.deliver(session_id, 1, "one again", 9, 0.0) == 0
    with pytest.raises(ProtocolError):
        await backend.deliver(session_id, 3, "gap", 3, 0.0)
    assert await backend.deliver(session_id, 2, "two", 3, 0.0) == 0
    with pytest.raises(InboxFull):
        await backend.deliver(session_id, 3, "past the window", 1, 0.0)
    wakes = probe.wakes
    assert await backend.receive(session_id) == "one"
    await eventually(lambda: probe.wakes > wakes)  # an ack is owed
    assert (await backend.pending(session_id, 0, None, None)).ack == 1
    assert await backend.deliver(session_id, 3, "three", 5, 0.0) == 1
    assert await backend.receive(session_id) == "two"
    assert await backend.receive(session_id) == "three"
    reattached = await backend.attach(session_id, Probe(), "sse", 0, 2.0)
    assert reattached.ack == 3


async def test_receive_waits_for_a_message(backend: Backend) -> None:
    session_id = await new_session(backend)
    assert await backend.claim_handler(session_id) == "start"  # the handler's process waits
    waiting = asyncio.create_task(backend.receive(session_id))
    await first_steps()
    assert not waiting.done()
    await backend.deliver(session_id, 1, b"bytes", 5, 0.0)
    assert await asyncio.wait_for(waiting, 5) == b"bytes"


async def test_close_ends_the_session_after_what_was_received(backend: Backend) -> None:
    session_id = await new_session(backend)
    probe = Probe()
    await backend.attach(session_id, probe, "websocket", 0, 1.0)
    await backend.deliver(session_id, 1, "before the end", 14, 0.0)
    await backend.push(session_id, "last words", 10, 0)
    wakes = probe.wakes
    assert await backend.close(session_id, 4321, "bye")
    assert not await backend.close(session_id, 1000, "the first close wins")
    await eventually(lambda: probe.wakes > wakes)
    assert await backend.receive(session_id) == "before the end"
    with pytest.raises(SessionClosed) as info:
        await backend.receive(session_id)
    assert (info.value.code, info.value.reason) == (4321, "bye")
    with pytest.raises(SessionClosed):
        await backend.push(session_id, "too late", 8, 0)
    with pytest.raises(SessionClosed):
        await backend.deliver(session_id, 2, "too late", 8, 0.0)
    pending = await backend.pending(session_id, 0, None, None)
    assert (pending.messages, pending.close) == ([(1, "last words")], (4321, "bye"))
    assert (await backend.pending(session_id, 1, None, None)).close == (4321, "bye")


async def test_close_wakes_blocked_receivers_and_senders(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=1)
    assert await backend.claim_handler(session_id) == "start"
    await backend.push(session_id, "fills the window", 1, 0)
    receiver = asyncio.create_task(backend.receive(session_id))
    sender = asyncio.create_task(backend.push(session_id, "blocked", 1, None))
    await first_steps()
    await backend.close(session_id, 1001, "going")
    for task in (receiver, sender):
        with pytest.raises(SessionClosed):
            await asyncio.wait_for(task, 5)


async def test_handler_is_claimed_once_unless_released_unfinished(backend: Backend) -> None:
    session_id = await new_session(backend)
    assert await backend.claim_handler(session_id) == "start"
    assert await backend.claim_handler(session_id) is None
    await backend.release_handler(session_id, finished=False)  # e.g. its process shut down
    assert await backend.claim_handler(session_id) == "restart"
    assert await backend.claim_handler(session_id) is None
    await backend.release_handler(session_id, finished=True)
    assert await backend.claim_handler(session_id) is None
    assert await backend.orphans() == []


async def test_no_handler_for_a_closed_session(backend: Backend) -> None:
    session_id = await new_session(backend)
    await backend.close(session_id, 1000, "")
    assert await backend.claim_handler(session_id) is None


async def test_expiry(backend: Backend) -> None:
    waiting = await new_session(backend, now=0.0)
    attached = await new_session(backend, now=0.0)
    await backend.attach(attached, Probe(), "websocket", 0, 0.0)
    detached = await new_session(backend, now=0.0)
    probe = Probe()
    await backend.attach(detached, probe, "sse", 0, 0.0)
    await backend.detach(detached, probe, 5.0)
    assert await backend.expire(9.0, ttl=10.0) == []
    assert await backend.expire(10.0, ttl=10.0) == [waiting]
    assert await backend.info(waiting) is None
    assert set(await backend.expire(15.0, ttl=10.0)) == {detached}
    assert await backend.info(attached) is not None


async def test_expired_session_with_a_running_handler_closes_with_4000(backend: Backend) -> None:
    session_id = await new_session(backend, now=0.0)
    assert await backend.claim_handler(session_id) == "start"
    receiver = asyncio.create_task(backend.receive(session_id))
    await asyncio.sleep(0)
    assert await backend.expire(30.0, ttl=10.0) == [session_id]
    with pytest.raises(SessionClosed) as info:
        await asyncio.wait_for(receiver, 5)
    assert info.value.code == 4000
    await backend.release_handler(session_id, finished=True)
    await backend.expire(41.0, ttl=10.0)
    assert await backend.info(session_id) is None


async def test_closed_sessions_are_remembered_for_a_ttl_after_the_close(backend: Backend) -> None:
    session_id = await new_session(backend)
    await backend.close(session_id, 4321, "remember me")
    await backend.expire(1.0, ttl=10.0)  # the reaper notices the close
    await backend.expire(10.9, ttl=10.0)
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.close_code == 4321
    await backend.expire(11.0, ttl=10.0)
    assert await backend.info(session_id) is None


async def test_closed_sessions_are_kept_while_a_connection_is_attached(backend: Backend) -> None:
    session_id = await new_session(backend)
    probe = Probe()
    await backend.attach(session_id, probe, "websocket", 0, 0.0)
    await backend.close(session_id, 1000, "")
    await backend.expire(1.0, ttl=10.0)
    await backend.expire(20.0, ttl=10.0)
    assert await backend.info(session_id) is not None
    await backend.detach(session_id, probe, 21.0)
    await backend.expire(21.0, ttl=10.0)
    assert await backend.info(session_id) is None


async def test_rooms_and_publish(backend: Backend) -> None:
    alice, bob, carol = [await new_session(backend) for _ in range(3)]
    await backend.join(alice, "news")
    await backend.join(bob, "news")
    await backend.join(bob, "sport")
    assert await backend.members("news") == {alice, bob}
    assert await backend.rooms(bob) == {"news", "sport"}
    assert await backend.publish("news", "headline", 8) == 2
    assert await backend.publish("news", "not for alice", 13, exclude=alice) == 1
    assert await backend.publish("empty", "nobody", 6) == 0
    assert (await backend.pending(alice, 0, None, None)).messages == [(1, "headline")]
    assert (await backend.pending(bob, 0, None, None)).messages == [
        (1, "headline"),
        (2, "not for alice"),
    ]
    assert (await backend.pending(carol, 0, None, None)).messages == []
    await backend.leave(bob, "news")
    assert await backend.members("news") == {alice}
    await backend.close(alice, 1000, "")
    assert await backend.members("news") == set()  # closed sessions leave their rooms
    assert await backend.rooms(alice) == set()
    with pytest.raises(SessionClosed):
        await backend.join(alice, "news")


async def test_publish_never_waits_and_closes_members_that_overflow(backend: Backend) -> None:
    slow = await new_session(backend, max_queue=1)
    fast = await new_session(backend, max_queue=4)
    for session_id in (slow, fast):
        await backend.join(session_id, "room")
    assert await backend.publish("room", "1", 1) == 2
    assert await backend.publish("room", "2", 1) == 1
    # The slow member was closed for lack of room, after what fitted in its window.
    pending = await backend.pending(slow, 0, None, None)
    assert (pending.messages, pending.close) == (
        [(1, "1")],
        (4005, "too many unacknowledged messages"),
    )
    snapshot = await backend.snapshot(slow)
    assert snapshot is not None and snapshot.close_code == 4005
    assert [seq for seq, _ in (await backend.pending(fast, 0, None, None)).messages] == [1, 2]


async def test_offer_to_one_session(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=1)
    assert await backend.offer(session_id, "hello", 5)
    assert not await backend.offer(session_id, "overflow", 8)
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.close_code == 4005
    assert not await backend.offer(session_id, "closed", 6)


async def test_touch_records_liveness(backend: Backend) -> None:
    session_id = await new_session(backend, now=0.0)
    await backend.touch(session_id, 7.0)
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.last_seen == 7.0


async def test_empty_messages_both_ways(backend: Backend) -> None:
    session_id = await new_session(backend)
    assert await backend.claim_handler(session_id) == "start"
    assert await backend.deliver(session_id, 1, "", 0, 0.0) == 0
    assert await backend.deliver(session_id, 2, b"", 0, 0.0) == 0
    assert await backend.receive(session_id) == ""
    assert await backend.receive(session_id) == b""
    await backend.push(session_id, "", 0, 0)
    await backend.push(session_id, b"", 0, 0)
    assert (await backend.pending(session_id, 0, None, None)).messages == [(1, ""), (2, b"")]
    await backend.ack(session_id, 2)
    assert (await backend.pending(session_id, 2, None, None)).messages == []


async def test_close_codes_may_be_enum_members(backend: Backend) -> None:
    session_id = await new_session(backend)
    assert await backend.close(session_id, CloseCode.INTERNAL_ERROR, "crashed")
    snapshot = await backend.snapshot(session_id)
    assert snapshot is not None and snapshot.close_code == 1011
    assert (await backend.pending(session_id, 0, None, None)).close == (1011, "crashed")


async def test_attached_transports_are_reported(backend: Backend) -> None:
    seen: list[tuple[str, str]] = []
    backend.watch_transports(lambda session_id, transport: seen.append((session_id, transport)))
    session_id = await new_session(backend)
    await backend.attach(session_id, Probe(), "longpoll", 0, 1.0)
    await backend.attach(session_id, Probe(), "websocket", 0, 2.0)
    assert seen == [(session_id, "longpoll"), (session_id, "websocket")]


async def test_the_rate_limit_refuses_messages_past_the_burst(backend: Backend) -> None:
    session_id = await new_session(backend, max_queue=100, max_rate=10.0, max_burst=3)
    for seq in (1, 2, 3):
        await backend.deliver(session_id, seq, "x", 1, 100.0)
    with pytest.raises(RateLimited):
        await backend.deliver(session_id, 4, "x", 1, 100.0)
    assert await backend.deliver(session_id, 3, "a resend costs nothing", 1, 100.0) == 0
    # A quarter of a second at 10 per second brings 2.5 tokens: two more messages.
    assert await backend.deliver(session_id, 4, "x", 1, 100.25) == 0
    assert await backend.deliver(session_id, 5, "x", 1, 100.25) == 0
    with pytest.raises(RateLimited):
        await backend.deliver(session_id, 6, "x", 1, 100.25)


async def test_sessions_are_counted_in_all_and_by_client(backend: Backend) -> None:
    assert await backend.count() == 0
    first = await new_session(backend, client="10.0.0.1")
    lasting = await new_session(backend, client="10.0.0.1")
    await backend.attach(lasting, Probe(), "websocket", 0, 0.0)  # attached: it does not expire
    await new_session(backend, client="10.0.0.2")
    await new_session(backend, client=None)
    assert await backend.count() == 4
    assert await backend.count("10.0.0.1") == 2
    assert await backend.count("10.0.0.2") == 1
    assert await backend.count("10.0.0.3") == 0
    await backend.close(first, 1000, "")
    await backend.expire(1.0, ttl=10.0)
    assert await backend.count("10.0.0.1") == 2  # closed but remembered for a while
    await backend.expire(11.0, ttl=10.0)
    assert await backend.count("10.0.0.1") == 1
    assert await backend.count("10.0.0.2") == 0  # waited too long for a connection
    assert await backend.count() == 1
