"""Load slows delivery and never stalls it nor loses a session.

Two nodes on one real redis-server, hundreds of WebSocket sessions split over them (spoken by
hand, as tests.integration.rawclient does, so that the test process stays light), and bursts
of broadcasts far above what the nodes deliver per second. Every session must get every
broadcast once and in order, however late; a session that is closed (4000 after a node was
declared dead while busy, 4005...) fails the test. A connection the server ends with a
reconnect frame is resumed, on the other node, as a client does. Timings are printed, never
asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from realtime.backends.redis import RedisBackend
from realtime.types import SessionId
from tests.integration.rawclient import RawSession, hello_ack, negotiate
from tests.multinode.conftest import Cluster
from tests.multinode.node import STREAM

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.integration]

SESSIONS = 400
BROADCASTS = 200
ACK_EVERY = 16
LIMIT = 240.0
"""Seconds the whole burst may take before the test gives up (a stall, not slowness)."""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes with the default ping interval (20 s): a lost wake-up shows as a stall."""
    with contextlib.ExitStack() as stack:
        cluster = Cluster(tmp_path_factory.mktemp("pair"), nodes=2, REALTIME_PING="20")
        cluster.start_redis()
        stack.callback(cluster.stop_redis)
        for index in range(2):
            stack.callback(cluster.terminate, index)
        cluster.ensure_all_running()
        yield cluster


@pytest.fixture
async def publisher(pair: Cluster) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend(pair.redis_url, prefix=pair.prefix)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


class Receiver:
    """One session's client: resumes after a reconnect frame, acks every ``ACK_EVERY``."""

    def __init__(self, cluster: Cluster, session: RawSession, node: int) -> None:
        self.cluster = cluster
        self.session = session
        self.node = node
        self.received: list[str] = []
        self.last = 0
        self.reconnects = 0
        self.lost: list[str] = []
        """Why connections ended without a reconnect frame (printed)."""
        self.closed: str | None = None
        self.errors: list[str] = []
        self.done = asyncio.Event()

    def url(self) -> str:
        base = f"ws://127.0.0.1:{self.cluster.ports[self.node]}/rt/websocket"
        return f"{base}?sid={self.session.sid}&last={self.last}"

    async def run(self, expected: int) -> None:
        for _ in range(100):  # connections, bounded
            try:
                if await self._connection(expected):
                    return
            except (ConnectionClosed, OSError) as exc:
                self.lost.append(repr(exc))
            self.reconnects += 1
            self.node = 1 - self.node  # resume on the other node
            await asyncio.sleep(0.05)
        self.errors.append("too many reconnections")

    async def _connection(self, expected: int) -> bool:
        """Return True when the session is over for this test (all received, or closed)."""
        headers = self.session.headers
        async with ws_connect(
            self.url(), max_size=None, open_timeout=30, additional_headers=headers
        ) as ws:
            async for frame in ws:
                assert isinstance(frame, str)
                kind = frame[0]
                if kind == "d":
                    number, _, data = frame[1:].partition(":")
                    seq = int(number)
                    if seq != self.last + 1:
                        self.errors.append(f"message {seq} after {self.last}")
                    self.last = seq
                    self.received.append(data)
                    if len(self.received) == expected:
                        self.done.set()  # before the ack, which may find the connection gone
                    if seq % ACK_EVERY == 0 or seq == expected:
                        await ws.send(f"a{seq}")
                elif kind == "p":
                    await ws.send("q")
                elif kind == "c":
                    self.closed = frame
                    self.done.set()
                    return True
                elif kind == "r":
                    return self.done.is_set()
            return self.done.is_set()


async def open_sessions(cluster: Cluster, count: int) -> list[Receiver]:
    """Negotiate ``count`` sessions, alternately on each node, each attaching on the other."""
    limit = asyncio.Semaphore(20)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(index: int) -> Receiver:
            async with limit:
                session = await negotiate(http, f"{cluster.direct(index % 2)}/rt")
            return Receiver(cluster, session, 1 - index % 2)

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def until_joined(publisher: RedisBackend, receivers: list[Receiver]) -> None:
    expected = {r.session.sid for r in receivers}
    async with asyncio.timeout(60):
        while not expected <= await publisher.members(STREAM):
            await asyncio.sleep(0.1)


async def watch_nodes(cluster: Cluster, publisher: RedisBackend, missing: set[str]) -> None:
    """Note every node that drops out of the live ones (until cancelled)."""
    for _ in range(10 * int(LIMIT + 60)):  # bounded: the test cancels it long before
        live = await publisher.client.smembers(f"{cluster.prefix}:nodes")
        missing.update(node for node in cluster.node_ids if node.encode() not in live)
        await asyncio.sleep(0.1)


async def burst(
    cluster: Cluster, publisher: RedisBackend, busy: tuple[float, float] | None = None
) -> None:
    """Open the sessions, publish ``BROADCASTS`` as fast as Redis takes them (keeping a node
    busy meanwhile if ``busy`` = (seconds, slice)), check every delivery."""
    receivers = await open_sessions(cluster, SESSIONS)
    tasks = [asyncio.create_task(r.run(BROADCASTS)) for r in receivers]
    declared_dead: set[str] = set()
    tasks.append(asyncio.create_task(watch_nodes(cluster, publisher, declared_dead)))
    try:
        await until_joined(publisher, receivers)
        if busy is not None:
            async with httpx.AsyncClient(timeout=10) as http:
                seconds, piece = busy
                response = await http.post(
                    f"{cluster.direct(0)}/busy", params={"seconds": seconds, "slice": piece}
                )
                assert response.status_code == 200
        started = time.perf_counter()
        queued = [await publisher.publish(STREAM, f"m{i}", len(f"m{i}")) for i in range(BROADCASTS)]
        published = time.perf_counter() - started
        assert queued == [SESSIONS] * BROADCASTS
        try:
            async with asyncio.timeout(LIMIT):
                await asyncio.gather(*(r.done.wait() for r in receivers))
        except TimeoutError:
            stuck = [r for r in receivers if not r.done.is_set()]
            where = sorted({(r.node, r.last, len(r.received), r.reconnects) for r in stuck})
            why = [(r.errors, r.lost) for r in stuck][:3]
            raise AssertionError(
                f"{len(stuck)} sessions stalled (node, last, received, reconnects): "
                f"{where[:10]}; their errors and lost connections: {why}"
            ) from None
        took = time.perf_counter() - started
        print(
            f"\n{SESSIONS} sessions x {BROADCASTS} broadcasts: published in {published:.2f} s, "
            f"all delivered in {took:.2f} s ({SESSIONS * BROADCASTS / took:,.0f}/s), "
            f"{sum(r.reconnects for r in receivers)} reconnections"
        )
        for reason in sorted({lost for r in receivers for lost in r.lost})[:5]:
            print("  lost:", reason)
        closed = [r.closed for r in receivers if r.closed is not None]
        assert closed == []
        assert declared_dead == set()  # busy is not dead
        for receiver in receivers:  # Redis knows where every connection is
            node = await publisher.client.hget(f"{cluster.prefix}:s:{receiver.session.sid}", "cn")
            assert node == cluster.node_ids[receiver.node].encode()
        assert [r.errors for r in receivers if r.errors] == []
        wanted = [f"m{i}" for i in range(BROADCASTS)]
        assert all(r.received == wanted for r in receivers)
        assert_no_error_logged(cluster)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for receiver in receivers:  # the next test starts with an empty room
            await publisher.close(SessionId(receiver.session.sid), 1000, "test over")


def assert_no_error_logged(cluster: Cluster) -> None:
    for index in range(len(cluster.ports)):
        log = (cluster.directory / f"node{index}.log").read_text(errors="replace")
        assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


async def test_a_session_gone_under_its_websocket_ends_it_with_4000_and_no_error(
    pair: Cluster, publisher: RedisBackend
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        session = await negotiate(http, f"{pair.direct(0)}/rt")
    async with session.websocket() as websocket:
        assert hello_ack(await websocket.recv()) == 0
        await until_joined(publisher, [Receiver(pair, session, 0)])
        # Its keys vanish (evicted, or forgotten by a reaper) while the WebSocket is open.
        prefix = pair.prefix
        keys = [f"{prefix}:{kind}:{session.sid}" for kind in ("s", "o", "i", "r")]
        await publisher.client.delete(*keys)
        await websocket.send("d1:hello")
        frames = []
        with contextlib.suppress(ConnectionClosed):
            async for frame in websocket:
                frames.append(frame)
    assert frames[-1:] == ["c4000:unknown or expired session"]
    assert websocket.close_code == 4000
    assert_no_error_logged(pair)


async def test_a_burst_far_above_capacity_delivers_everything_once_in_order(
    pair: Cluster, publisher: RedisBackend
) -> None:
    await burst(pair, publisher)


async def test_a_node_with_a_saturated_event_loop_delivers_everything_once_in_order(
    pair: Cluster, publisher: RedisBackend
) -> None:
    # Slices of 4 s hold the loop past node_ttl (3 s), three times over: the node is busy,
    # not dead, and must not be declared dead (its sessions detached, then expired).
    await burst(pair, publisher, busy=(12.0, 4.0))
