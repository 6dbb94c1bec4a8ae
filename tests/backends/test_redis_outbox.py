"""What the process holding a connection keeps in memory on Redis (outgoing.py): acks that
write nothing until a checkpoint is due, senders elsewhere waiting for them, long-polls that
stay attached between polls."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from realtime.backends.redis import RedisBackend
from realtime.backends.redis import outgoing as outgoing_module
from realtime.protocol.session import SessionStatus
from tests.backends.test_contract import Probe, eventually, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def writes(client: Redis) -> int:
    """Writes to hashes so far (a checkpoint is one)."""
    stats = await client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_hset",))


async def test_acks_write_nothing_until_a_checkpoint_is_due(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, _ = nodes
    members = [await new_session(a, max_queue=100) for _ in range(20)]
    for session_id in members:
        await a.attach(session_id, Probe(), "websocket", 0, 1.0)
        await a.join(session_id, "room")
    await a.outgoing.flush()
    before = await writes(a.client)
    for i in range(10):
        await a.publish("room", f"m{i}", 2)
    await eventually(lambda: all(len(a.notifier.outboxes[s].queue) == 10 for s in members))
    for session_id in members:
        for seq in range(1, 11):
            await a.ack(session_id, seq)  # one ack per message: none reaches Redis
    assert await writes(a.client) == before
    hashes = [await a.client.hmget(f"{a.prefix}:s:{s}", "oa") for s in members]
    assert hashes == [[b"0"]] * 20
    for session_id in members:  # once due (here: some time went by), one write per session
        a.notifier.outboxes[session_id].written_at = -100.0
    await a.outgoing.flush()
    assert await writes(a.client) - before == 20 * 2  # the flush's, and its checkpoint's
    assert [await a.client.hget(f"{a.prefix}:s:{s}", "oa") for s in members] == [b"10"] * 20


async def test_a_sender_elsewhere_waits_for_the_acks_of_the_connection_s_process(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await new_session(a, max_queue=2)
    assert await a.claim_handler(session_id) == "start"  # the handler sends from a
    await a.join(session_id, "room")
    await a.publish("room", "one", 3)
    await a.publish("room", "two", 3)
    await b.attach(session_id, Probe(), "websocket", 0, 1.0)  # its connection is on b
    assert len(b.notifier.outboxes[session_id].queue) == 2  # the attach counted them
    waiting = asyncio.create_task(a.push(session_id, "three", 5, 5.0))  # the window is full
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await b.ack(session_id, 2)  # told that a sender waits, b writes its checkpoint soon
    async with asyncio.timeout(3):  # sooner than CHECKPOINT_AGE
        await waiting
    await eventually(lambda: len(b.notifier.outboxes[session_id].queue) == 1)
    assert (await b.pending(session_id, 2, None, None)).messages == [(3, "three")]


async def test_a_long_poll_stays_attached_between_polls_and_another_process_takes_it_over(
    nodes: tuple[RedisBackend, RedisBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    monkeypatch.setattr(outgoing_module, "LINGER", 0.3)
    session_id = await new_session(a, max_queue=100)
    await a.join(session_id, "room")
    first = Probe()
    await a.attach(session_id, first, "longpoll", 0, 1.0)
    await a.detach(session_id, first, 2.0)
    snapshot = await a.snapshot(session_id)
    assert snapshot is not None and snapshot.status == SessionStatus.ATTACHED  # it stays
    await a.publish("room", "between polls", 13)  # numbered here, as for a connection
    await eventually(lambda: len(a.notifier.outboxes[session_id].queue) == 1)
    second = Probe()
    attached = await a.attach(session_id, second, "longpoll", 0, 3.0)  # the next poll, here
    assert attached.replaced is None
    assert (await a.pending(session_id, 0, None, None)).messages == [(1, "between polls")]
    await a.detach(session_id, second, 4.0)
    third = Probe()
    await b.attach(session_id, third, "longpoll", 1, 5.0)  # the next poll, elsewhere
    await eventually(lambda: session_id not in a.notifier.outboxes)
    await a.publish("room", "after", 5)
    await eventually(lambda: len(b.notifier.outboxes[session_id].queue) == 1)
    assert (await b.pending(session_id, 1, None, None)).messages == [(2, "after")]
    await b.detach(session_id, third, 6.0)
    await asyncio.sleep(0.5)  # past LINGER: detached for real
    snapshot = await b.snapshot(session_id)
    assert snapshot is not None and snapshot.status == SessionStatus.DETACHED
    assert session_id not in b.notifier.outboxes


async def test_direct_messages_read_from_the_logs_at_attach_are_known_as_direct(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, _ = nodes
    session_id = await new_session(a, max_queue=100)
    await a.join(session_id, "room")
    await a.push(session_id, "direct", 6, 0)
    await a.publish("room", "from the room", 13)
    await a.push(session_id, "direct again", 12, 0)
    await a.attach(session_id, Probe(), "websocket", 0, 1.0)
    outbox = a.notifier.outboxes[session_id]
    assert [data for _, _, data, _ in outbox.queue] == ["direct", "from the room", "direct again"]
    assert list(outbox.directs) == [1, 3]
    await a.ack(session_id, 1)  # Redis keeps a direct message until a checkpoint: one is due
    assert outbox.due(asyncio.get_running_loop().time(), 256)
    await a.outgoing.flush()
    assert await a.client.xlen(f"{a.prefix}:o:{session_id}") == 1
