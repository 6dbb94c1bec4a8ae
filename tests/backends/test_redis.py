"""What only a shared backend does: several processes (here, several RedisBackend instances
on one Redis) serving the same sessions."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from redis.asyncio import Redis

from realtime import RealtimeApp, Session
from realtime.backends.base import SessionInfo
from realtime.backends.redis import RedisBackend
from realtime.exceptions import BackendError
from realtime.testing import FaultProxy
from realtime.types import SessionId
from tests.backends.test_contract import Probe, eventually, new_session
from tests.servers import port_of

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


class Channel:
    """Records what a node's notification channel carries, from a client of its own."""

    def __init__(self, url: str, backend: RedisBackend) -> None:
        self._client = Redis.from_url(url)
        self._name = f"{backend.prefix}:ch:{backend.node}"
        self.messages: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Channel:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._name)

        async def listen() -> None:
            async for message in pubsub.listen():
                self.messages.append(message["data"].decode())

        self._task = asyncio.create_task(listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()

    async def settle(self) -> None:
        """Let notifications published so far arrive: a PING through the same Redis."""
        await self._client.ping()
        await asyncio.sleep(0.05)


async def session(backend: RedisBackend) -> SessionId:
    session_id = SessionId(secrets.token_urlsafe(8))
    await backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
    return session_id


async def test_a_message_delivered_on_one_node_reaches_the_handler_on_another(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await session(a)
    assert await a.claim_handler(session_id) == "start"
    waiting = asyncio.create_task(a.receive(session_id))
    await asyncio.sleep(0.05)
    await b.deliver(session_id, 1, "from the other node", 19, 0.0)
    assert await asyncio.wait_for(waiting, 5) == "from the other node"


async def test_a_push_on_one_node_wakes_the_connection_on_another(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await session(a)
    probe = Probe()
    await b.attach(session_id, probe, "sse", 0, 1.0)
    await a.push(session_id, "hello", 5, 0)
    await eventually(lambda: probe.wakes >= 1)
    assert (await b.pending(session_id, 0, None, None)).messages == [(1, "hello")]


async def test_a_connection_on_another_node_is_replaced_and_reported(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    reported: list[tuple[str, str]] = []
    a.watch_transports(lambda session_id, transport: reported.append((session_id, transport)))
    session_id = await session(a)
    assert await a.claim_handler(session_id) == "start"  # the handler runs on a
    old = Probe()
    await a.attach(session_id, old, "websocket", 0, 1.0)
    await b.attach(session_id, Probe(), "longpoll", 0, 2.0)  # the client came back through b
    await eventually(lambda: old.disconnected is not None)
    assert old.disconnected is not None and old.disconnected[0] == 4002
    await eventually(lambda: (session_id, "longpoll") in reported)


async def test_the_handlers_of_a_dead_node_are_restarted_and_its_connections_detached(
    redis_url: str,
) -> None:
    prefix = f"test-{secrets.token_hex(4)}"
    dying = RedisBackend(redis_url, prefix=prefix, node_ttl=0.3)
    survivor = RedisBackend(redis_url, prefix=prefix, node_ttl=0.3)
    await dying.start()
    await survivor.start()
    try:
        session_id = await session(dying)
        assert await dying.claim_handler(session_id) == "start"
        await dying.attach(session_id, Probe(), "websocket", 0, 1.0)
        await dying.vanish()  # it dies without a word: no more heartbeats
        await asyncio.sleep(0.5)  # past node_ttl
        await survivor.expire(2.0, ttl=30.0)
        assert await survivor.orphans() == [session_id]
        assert await survivor.claim_handler(session_id) == "restart"
        snapshot = await survivor.snapshot(session_id)
        assert snapshot is not None and snapshot.status == 2  # detached: it may expire
    finally:
        await survivor.stop()


async def test_a_node_that_still_beats_is_never_reaped(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await session(a)
    await a.attach(session_id, Probe(), "websocket", 0, 1.0)
    # b found a's key gone a moment ago, and a beat since: the reap must see the beat.
    assert await b._run("reap_node", a.node, "2.0") == []
    snapshot = await b.snapshot(session_id)
    assert snapshot is not None and snapshot.status == 1  # still attached
    assert await b.client.hget(f"{a.prefix}:s:{session_id}", "cn") == a.node.encode()


async def test_a_node_taken_for_dead_ends_its_connections_so_they_attach_again(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = nodes
    session_id = await session(a)
    probe = Probe()
    await a.attach(session_id, probe, "websocket", 0, 1.0)
    await a.client.delete(f"{a.prefix}:node:{a.node}")  # as if a's beats did not reach Redis
    await b.expire(2.0, ttl=30.0)  # b reaps a
    snapshot = await b.snapshot(session_id)
    assert snapshot is not None and snapshot.status == 2  # detached in Redis
    await eventually(lambda: probe.disconnected is not None)  # a's next beat notices
    assert probe.disconnected is not None and probe.disconnected[0] == 4008  # resume


async def test_the_heartbeat_beats_while_the_event_loop_is_held(redis_url: str) -> None:
    prefix = f"test-{secrets.token_hex(4)}"
    busy = RedisBackend(redis_url, prefix=prefix, node_ttl=0.3)
    await busy.start()
    try:
        time.sleep(1.0)  # the loop is held for three times node_ttl
        assert await busy.client.exists(f"{prefix}:node:{busy.node}") == 1
    finally:
        await busy.stop()


async def test_an_unreachable_redis_is_a_backend_error() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(BackendError):
        await backend.start()


async def test_a_burst_beyond_max_connections_waits_for_a_connection(redis_url: str) -> None:
    backend = RedisBackend(redis_url, prefix=f"test-{secrets.token_hex(4)}", max_connections=3)
    await backend.start()  # its notifications hold one of the three
    try:
        session_id = await session(backend)
        snapshots = await asyncio.gather(*(backend.snapshot(session_id) for _ in range(200)))
        assert all(snapshot is not None for snapshot in snapshots)
    finally:
        await backend.stop()


async def test_acks_notify_only_a_waiting_sender_which_may_be_on_another_node(
    redis_url: str, nodes: tuple[RedisBackend, RedisBackend]
) -> None:
    a, b = nodes
    session_id = await new_session(a, max_queue=2)
    assert await a.claim_handler(session_id) == "start"  # the handler runs on a
    async with Channel(redis_url, a) as on_a, Channel(redis_url, b) as on_b:
        await a.push(session_id, "one", 3, 1.0)
        await a.ack(session_id, 1)  # nobody waits: no notification
        await a.push(session_id, "two", 3, 1.0)
        await a.push(session_id, "three", 5, 1.0)  # the window (2) is full now
        waiting = asyncio.create_task(b.push(session_id, "four", 4, 5.0))
        async with asyncio.timeout(5):  # until b is recorded as waiting for room
            while await a.client.hget(f"{a.prefix}:s:{session_id}", "w") != b.node.encode():
                await asyncio.sleep(0.01)
        assert not waiting.done()
        await a.ack(session_id, 2)
        await asyncio.wait_for(waiting, 5)
        await on_a.settle()
        await on_b.settle()
    assert [m for m in on_a.messages if m.startswith("k ")] == []
    assert on_b.messages == [f"k {session_id}"]


async def test_a_room_publish_notifies_each_node_once(
    redis_url: str, nodes: tuple[RedisBackend, RedisBackend]
) -> None:
    a, b = nodes
    probes = {await session(a): Probe() for _ in range(5)}
    for session_id, probe in probes.items():
        await b.attach(session_id, probe, "websocket", 0, 1.0)
        await a.join(session_id, "lobby")
    async with Channel(redis_url, b) as on_b:
        assert await a.publish("lobby", "hello", 5) == 5
        await eventually(lambda: all(probe.wakes >= 1 for probe in probes.values()))
        await on_b.settle()
    # Once, with the room and the payload: b fans it out to its members from memory.
    assert [m.partition("\n")[::2] for m in on_b.messages] == [("p 6 t 5 . 5", "lobbyhello")]


@pytest.mark.expected_errors  # the reaper logs the outage, as it should
async def test_a_handler_rides_out_a_short_redis_outage(redis_url: str) -> None:
    # Session.join, leave, rooms and close wait for a backend that is away for less than
    # send_timeout, as send and receive do: a handler joining a room just as Redis restarts
    # must not fail its session with 1011.
    async def handler(session: Session) -> None:
        await session.receive()

    async with FaultProxy(port_of(redis_url)) as proxy:
        backend = RedisBackend(f"redis://127.0.0.1:{proxy.port}", prefix=secrets.token_hex(4))
        app = RealtimeApp(handler, backend=backend, send_timeout=10)
        async with app.lifespan():
            session_id = await new_session(backend)
            info = await backend.info(session_id)
            assert info is not None
            session = Session(info, backend=backend, settings=app.settings, hub=app.hub)
            operations: list[Callable[[], Coroutine[Any, Any, None]]] = [
                lambda: session.join("lobby"),
                lambda: session.leave("lobby"),
                lambda: session.join("hall"),
            ]
            for operation in operations:
                proxy.down = True
                proxy.cut()  # Redis is gone: every connection to it too
                tried = proxy.connections
                task = asyncio.create_task(operation())
                async with asyncio.timeout(5):  # until it was refused twice: it retries
                    while proxy.connections < tried + 2:
                        await asyncio.sleep(0.01)
                assert not task.done()  # waiting for Redis, not failed
                proxy.down = False
                await asyncio.wait_for(task, 10)
            assert await session.rooms() == {"hall"}
