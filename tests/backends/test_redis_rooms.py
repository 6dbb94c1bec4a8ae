"""Rooms on Redis: a publish appends to the room's log once, whatever the room's size, and
each member's sequence is numbered from the logs of its rooms
(realtime/backends/redis/roomlog.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from realtime.backends.base import SessionInfo
from realtime.backends.redis import RedisBackend
from realtime.exceptions import ReplayGap
from realtime.types import SessionId
from tests.backends.test_contract import Probe, eventually, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[RedisBackend, RedisBackend]]:
    prefix = f"test-{secrets.token_hex(4)}"
    first = RedisBackend(redis_url, prefix=prefix, room_log_length=20)
    second = RedisBackend(redis_url, prefix=prefix, room_log_length=20)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def sequence(backend: RedisBackend, session_id: SessionId) -> list[tuple[int, str | bytes]]:
    return (await backend.pending(session_id, 0, None, None)).messages


BACKGROUND = {"cmdstat_set", "cmdstat_sadd", "cmdstat_multi", "cmdstat_exec", "cmdstat_info"}
"""What the nodes' heartbeats and this count itself run meanwhile (a publish runs none)."""


async def commands_run(client: Redis) -> int:
    """Commands Redis ran so far, those run inside scripts included, but BACKGROUND."""
    stats = await client.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name not in BACKGROUND)


async def test_a_publish_costs_the_same_commands_for_a_room_of_50_and_of_500(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    costs = []
    for size in (50, 500):
        room = f"room-{size}"
        members = [await new_session(a, max_queue=100) for _ in range(size)]
        for index, session_id in enumerate(members):  # connections on both nodes
            await (a, b)[index % 2].attach(session_id, Probe(), "websocket", 0, 1.0)
            await a.join(session_id, room)
        await a.publish(room, "warm-up", 7)  # scripts loaded
        before = await commands_run(a.client)
        assert await a.publish(room, "hello", 5) == size
        costs.append(await commands_run(a.client) - before)
        for session_id in members:
            assert [m for _, m in await sequence(b, session_id)] == ["warm-up", "hello"]
    assert costs[0] == costs[1], costs


async def test_a_member_gets_what_was_published_while_it_was_in_the_room_in_order(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await new_session(a, max_queue=100)
    other = await new_session(a, max_queue=100)
    await a.join(other, "news")
    await a.join(other, "sport")
    await a.publish("news", "before the join", 15)
    await a.join(session_id, "news")
    await b.publish("news", "n1", 2)
    await a.join(session_id, "sport")
    await b.publish("sport", "s1", 2)
    await a.push(session_id, "direct", 6, 0)  # numbered after what came before
    await a.publish("news", "n2", 2)
    await b.publish("news", "excluded", 8, exclude=session_id)
    await a.leave(session_id, "news")
    await a.publish("news", "after the leave", 15)
    await b.publish("sport", "s2", 2)
    expected = [(1, "n1"), (2, "s1"), (3, "direct"), (4, "n2"), (5, "s2")]
    assert await sequence(b, session_id) == expected
    assert await sequence(a, session_id) == expected  # any node reads the same numbers
    assert [m for _, m in await sequence(a, other)] == [
        "before the join",
        "n1",
        "s1",
        "n2",
        "excluded",
        "after the leave",
        "s2",
    ]


async def test_only_the_nodes_holding_members_are_woken_and_joins_elsewhere_count(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await new_session(a)
    probe = Probe()
    await b.attach(session_id, probe, "websocket", 0, 1.0)
    await a.join(session_id, "lobby")  # on a, for a connection on b: b is told
    await a.publish("lobby", "one", 3)
    await eventually(lambda: probe.wakes >= 1)
    assert await a.client.hgetall(f"{a.prefix}:rn:lobby") == {b.node.encode(): b"1"}
    await a.attach(session_id, Probe(), "sse", 0, 2.0)  # the connection moves to a
    assert await a.client.hgetall(f"{a.prefix}:rn:lobby") == {a.node.encode(): b"1"}
    await a.leave(session_id, "lobby")
    assert await a.client.hgetall(f"{a.prefix}:rn:lobby") == {}


async def test_a_session_numbered_behind_what_a_room_log_keeps_cannot_resume_elsewhere(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    behind = await new_session(a, max_queue=1000)
    reading = await new_session(a, max_queue=1000)
    await a.attach(behind, Probe(), "websocket", 0, 1.0)  # its client never acknowledges
    await b.attach(reading, Probe(), "websocket", 0, 1.0)
    for session_id in (behind, reading):
        await a.join(session_id, "busy")
    for i in range(30):  # the log keeps 20
        await a.publish("busy", f"m{i}", 3)
    everything = [(i + 1, f"m{i}") for i in range(30)]
    await eventually(lambda: len(a.notifier.outboxes[behind].queue) == 30)
    assert await sequence(a, behind) == everything  # its own process numbered each as it came
    await eventually(lambda: len(b.notifier.outboxes[reading].queue) == 30)
    assert await sequence(b, reading) == everything
    await b.ack(reading, 30)
    await b.outgoing.flush()  # its checkpoint: message 30
    # Elsewhere, numbering starts from the checkpoint: 0 for one, behind what the log keeps.
    with pytest.raises(ReplayGap):
        await b.attach(behind, Probe(), "sse", 0, 2.0)
    await a.attach(reading, Probe(), "sse", 30, 2.0)  # the other's checkpoint is recent
    await a.publish("busy", "after", 5)
    await eventually(lambda: len(a.notifier.outboxes[reading].queue) == 1)
    assert (await a.pending(reading, 30, None, None)).messages == [(31, "after")]


async def test_a_member_without_connection_is_numbered_by_the_publish_and_closed_past_its_window(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    away = await new_session(a, max_queue=3)
    await a.join(away, "room")
    for i in range(3):
        assert await b.publish("room", f"m{i}", 2) == 1
    assert await b.publish("room", "past the window", 15) == 0  # not queued: closed
    snapshot = await a.snapshot(away)  # by that publish: nobody reads it meanwhile
    assert snapshot is not None and snapshot.close_code == 4005
    assert await a.members("room") == set()
    assert await b.publish("room", "nobody", 6) == 0
    pending = await a.pending(away, 0, None, None)
    assert pending.messages == [(1, "m0"), (2, "m1"), (3, "m2")]


async def test_members_whose_keys_are_gone_leave_the_room_and_its_counts(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    attached, waiting, staying = [await new_session(a) for _ in range(3)]
    probe = Probe()
    await b.attach(attached, probe, "websocket", 0, 1.0)
    for session_id in (attached, waiting, staying):
        await a.join(session_id, "room")
    prefix = a.prefix
    for session_id in (attached, waiting):  # evicted, or expired by their TTL
        kinds = ("s", "o", "i", "r")
        await a.client.delete(*(f"{prefix}:{kind}:{session_id}" for kind in kinds))
    await b.detach(attached, probe, 2.0)  # its node knew its rooms
    assert await a.client.hgetall(f"{prefix}:rn:room") == {}
    assert await a.publish("room", "hello", 5) == 1  # the waiting one is dropped by it
    assert await a.members("room") == {staying}


async def test_a_long_backlog_of_two_rooms_is_numbered_alike_by_its_node_and_from_the_logs(
    redis_url: str,
) -> None:
    backend = RedisBackend(redis_url, prefix=f"test-{secrets.token_hex(4)}")
    await backend.start()
    try:
        session_id = await new_session(backend, max_queue=5000)
        probe = Probe()
        await backend.attach(session_id, probe, "websocket", 0, 1.0)
        for room in ("busy", "quiet"):
            await backend.join(session_id, room)
        for i in range(2500):
            room = "quiet" if i % 4 == 0 else "busy"
            await backend.publish(room, str(i), len(str(i)))
            if i % 100 == 50:
                await backend.push(session_id, f"direct {i}", 9, 0)
        expected = []
        for i in range(2500):
            expected.append(str(i))
            if i % 100 == 50:
                expected.append(f"direct {i}")
        numbered = [(seq + 1, data) for seq, data in enumerate(expected)]
        await eventually(lambda: len(backend.notifier.outboxes[session_id].queue) == len(expected))
        assert await sequence(backend, session_id) == numbered  # from memory, as they came
        await backend.detach(session_id, probe, 2.0)
        assert await sequence(backend, session_id) == numbered  # from the logs
    finally:
        await backend.stop()


async def test_room_messages_charge_the_address_budget_while_the_member_waits(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, _ = nodes

    async def member() -> SessionId:
        session_id = SessionId(secrets.token_urlsafe(8))
        info = SessionInfo(session_id, "0" * 64, 0.0, client="10.9.9.9", max_client_bytes=100)
        assert await a.create(info, 0.0) == "created"
        await a.join(session_id, "room")  # no connection: the publish counts it
        return session_id

    first, second = await member(), await member()
    assert await a.publish("room", "x" * 60, 60) == 1  # 60 more would be past 100
    snapshots = [await a.snapshot(session_id) for session_id in (first, second)]
    codes = sorted(snapshot.close_code or 0 for snapshot in snapshots if snapshot is not None)
    assert codes == [0, 4005]
    kept = first if snapshots[0] is not None and snapshots[0].close_code is None else second
    assert await a.client.get(f"{a.prefix}:mem:10.9.9.9") == b"60"
    # Attached, its process holds the room's messages (one copy of each, in the room's log
    # and in the process's memory, whatever the room's size): the budget is given back.
    await a.attach(kept, Probe(), "websocket", 0, 1.0)
    assert await a.client.get(f"{a.prefix}:mem:10.9.9.9") == b"0"
    assert await sequence(a, kept) == [(1, "x" * 60)]
