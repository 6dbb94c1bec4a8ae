"""The engine's downstream pump, in process, on the memory backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

import pytest

from realtime import RealtimeApp, Session
from realtime.backends.base import SessionInfo
from realtime.protocol.connection import ConnectionProtocol
from realtime.protocol.frames import Ack, Close, Frame, Ping, Reconnect
from realtime.server.engine import Channel
from realtime.transports.longpoll import _wait_for_news
from realtime.types import SessionId

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[int, str | bytes]] = []
        self.control: list[Frame] = []
        self.ended: Close | Reconnect | None = None
        self.changed = asyncio.Event()

    async def write_control(self, frames: list[Frame]) -> None:
        self.control += frames

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        self.messages += messages
        self.changed.set()

    async def end(self, frame: Close | Reconnect, last: int = 0) -> None:
        self.ended = frame


async def handler(session: Session) -> None:
    pass


@pytest.mark.timeout(10)  # the bug this guards against spins forever without yielding
async def test_skips_what_the_client_acknowledged_through_another_connection() -> None:
    app = RealtimeApp(handler, ping_interval=None)
    backend = app.backend
    session_id = SessionId("s")
    await backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
    for i in range(1, 6):
        await backend.push(session_id, f"m{i}", 2, 0)
    channel = Channel(session_id, "sse")
    await backend.attach(session_id, channel, "sse", 0, 0.0)
    # An older connection, still open, delivered 1-3 and the client acknowledged them (by
    # POST) before this connection wrote anything.
    await backend.ack(session_id, 3)
    writer = Recorder()
    proto = ConnectionProtocol(is_server=True, now=asyncio.get_running_loop().time())
    task = asyncio.create_task(app.engine.pump(channel, proto, 0, writer))
    async with asyncio.timeout(5):
        while len(writer.messages) < 2:
            writer.changed.clear()
            await writer.changed.wait()
    await backend.close(session_id, 1000, "done")
    await asyncio.wait_for(task, 5)
    assert writer.messages == [(4, "m4"), (5, "m5")]
    assert writer.ended == Close(1000, "done")


class Stalled(Recorder):
    """A connection that stops taking data: its first write waits until ``resume`` is set,
    as an ASGI ``send`` waits on a socket whose buffer is full."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = asyncio.Event()
        self.waiting = False

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        if not self.resume.is_set():
            self.waiting = True
            await self.resume.wait()
        await super().write_messages(messages)


class Publishes(Recorder):
    """Notes, for each message written, how many publishes had returned by then."""

    def __init__(self, published: list[int]) -> None:
        super().__init__()
        self.published = published
        self.seen_after: list[int] = []

    async def write_messages(self, messages: list[tuple[int, str | bytes]]) -> None:
        self.seen_after += [self.published[0]] * len(messages)
        await super().write_messages(messages)


class Pumping:
    """One connection's pump: ``engine.pump`` in a task (as SSE runs it), or started with
    ``engine.start_pump`` (as WebSocket does: no task while parked)."""

    def __init__(
        self, channel: Channel, done: asyncio.Future[None], stop: Callable[[], object]
    ) -> None:
        self.channel, self.done, self.stop = channel, done, stop

    def cancel(self) -> None:
        self.stop()

    def __await__(self) -> Generator[Any, None, None]:
        return self.done.__await__()


@pytest.fixture(params=[False, True], ids=["task", "started"])
def started(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


async def attached_pumps(
    app: RealtimeApp, writers: list[Recorder], room: str, started: bool = False
) -> list[Pumping]:
    """A session per writer, in ``room``, each with a streaming connection pumping into it."""
    backend, pumps = app.backend, []
    for i, writer in enumerate(writers):
        session_id = SessionId(f"s{i}")
        await backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
        await backend.join(session_id, room)
        channel = Channel(session_id, "websocket")
        await backend.attach(session_id, channel, "websocket", 0, 0.0)
        proto = app.engine.protocol(channel, 0)
        if started:
            pump = app.engine.start_pump(channel, proto, 0, writer)
            assert pump.finished is not None
            pumps.append(Pumping(channel, pump.finished, pump.stop))
        else:
            task = asyncio.create_task(app.engine.pump(channel, proto, 0, writer))
            pumps.append(Pumping(channel, task, task.cancel))
    await asyncio.sleep(0)  # each pump looks once, finds nothing, and parks
    return pumps


async def stop_all(pumps: list[Pumping]) -> None:
    for pump in pumps:
        pump.cancel()
    await asyncio.gather(*(pump.done for pump in pumps), return_exceptions=True)


async def wait_for(writer: Recorder, count: int) -> None:
    async with asyncio.timeout(5):
        while len(writer.messages) < count:
            writer.changed.clear()
            await writer.changed.wait()


async def test_a_burst_reaches_every_connection_message_by_message(started: bool) -> None:
    app = RealtimeApp(handler, ping_interval=None)
    published = [0]
    writers = [Publishes(published) for _ in range(20)]
    pumps = await attached_pumps(app, list(writers), "room", started)
    burst = [f"m{i}" for i in range(1, 51)]
    for message in burst:  # back to back: nothing else awaited in between
        assert await app.hub.publish("room", message) == len(writers)
        published[0] += 1
    for writer in writers:
        await wait_for(writer, len(burst))
        assert writer.messages == list(enumerate(burst, 1))
        # Message n was written before publish n returned: the first reached everyone
        # before the rest of the burst was queued, and so did each one after it.
        assert writer.seen_after == list(range(len(burst)))
    await stop_all(pumps)


async def test_a_publisher_goes_on_past_a_connection_that_stopped_reading(started: bool) -> None:
    app = RealtimeApp(handler, ping_interval=None)
    stalled, others = Stalled(), [Recorder() for _ in range(3)]
    pumps = await attached_pumps(app, [stalled, *others], "room", started)
    burst = [f"m{i}" for i in range(1, 101)]
    async with asyncio.timeout(5):  # the publisher never waits for the stalled connection
        for message in burst:
            assert await app.hub.publish("room", message) == 4
    assert stalled.waiting and stalled.messages == []
    for writer in others:
        await wait_for(writer, len(burst))
        assert writer.messages == list(enumerate(burst, 1))
    # The connection takes data again: its own task finishes the write that waited, then
    # writes the rest, in order, each message once.
    stalled.resume.set()
    await wait_for(stalled, len(burst))
    assert stalled.messages == list(enumerate(burst, 1))
    await stop_all(pumps)


async def test_a_write_that_waits_past_send_timeout_ends_the_connection(started: bool) -> None:
    app = RealtimeApp(handler, ping_interval=None, send_timeout=0.2)
    stalled = Stalled()
    (pump,) = await attached_pumps(app, [stalled], "room", started)
    assert await app.hub.publish("room", "m1") == 1
    assert stalled.waiting
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pump, 5)
    assert stalled.messages == []


async def test_a_burst_answers_a_waiting_poll_with_its_first_message() -> None:
    app = RealtimeApp(handler, ping_interval=None)
    backend = app.backend
    session_id = SessionId("p")
    await backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
    await backend.join(session_id, "room")
    channel = Channel(session_id, "longpoll")
    await backend.attach(session_id, channel, "longpoll", 0, 0.0)
    poll = asyncio.create_task(app.engine.poll(channel, 0, False, channel.event.wait))
    await asyncio.sleep(0)  # the poll finds nothing queued and waits
    for i in range(1, 11):
        await app.hub.publish("room", f"m{i}")
    assert await asyncio.wait_for(poll, 5) == ["d1:m1"]


async def test_a_message_taken_without_a_reply_is_acknowledged(started: bool) -> None:
    app = RealtimeApp(handler, ping_interval=None)
    writer = Recorder()
    (pump,) = await attached_pumps(app, [writer], "room", started)
    session_id = SessionId("s0")
    await app.backend.deliver(session_id, 1, "hello", 5, 0.0)
    assert await app.backend.receive(session_id) == "hello"  # and no reply
    async with asyncio.timeout(5):
        while Ack(1) not in writer.control:
            await asyncio.sleep(0.01)
    assert writer.messages == []
    await stop_all([pump])


async def test_a_started_pump_keeps_no_task_while_parked() -> None:
    """A WebSocket's pump: no task while idle, one while a write waits, none again after."""
    app = RealtimeApp(handler, ping_interval=None)
    before = len(asyncio.all_tasks())
    stalled, others = Stalled(), [Recorder() for _ in range(9)]
    pumps = await attached_pumps(app, [stalled, *others], "room", started=True)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    assert await app.hub.publish("room", "m1") == 10
    assert all(writer.messages == [(1, "m1")] for writer in others)  # inline, no task
    assert stalled.waiting and len(asyncio.all_tasks()) == before + 1  # the stalled write's
    stalled.resume.set()
    await wait_for(stalled, 1)
    for _ in range(3):  # the task ends once it parks
        await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    await stop_all(pumps)
    assert all(pump.done.done() for pump in pumps)


async def test_a_parked_started_pump_pings_without_a_task() -> None:
    """The heartbeat alarm reaches a pump that has no task to wake."""
    app = RealtimeApp(handler, ping_interval=0.05, ping_timeout=30)
    writer = Recorder()
    (pump,) = await attached_pumps(app, [writer], "room", started=True)
    async with asyncio.timeout(5):
        while Ping() not in writer.control:
            await asyncio.sleep(0.01)
    assert writer.messages == []
    await stop_all([pump])


async def test_a_parked_started_pump_ends_on_disconnect() -> None:
    """A disconnect (a newer connection took over) reaches a pump that has no task."""
    app = RealtimeApp(handler, ping_interval=None)
    writer = Recorder()
    (pump,) = await attached_pumps(app, [writer], "room", started=True)
    pump.channel.disconnect(4001, "replaced")
    await asyncio.wait_for(pump, 5)
    assert writer.ended == Reconnect(4001, "replaced")


async def test_news_before_a_poll_waits_is_not_lost() -> None:
    """News may come while the poll reads what is queued (a Redis round trip): the wait that
    follows must return at once, not at the poll timeout."""
    channel = Channel(SessionId("p"), "longpoll")
    channel.wake()  # news while the poll was looking: nothing parked to cancel yet

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()  # the client stays: only news ends this wait
        raise AssertionError("unreachable")

    await asyncio.wait_for(_wait_for_news(channel, receive, timeout=30), 1)


async def test_the_end_of_a_started_pump_stops_its_reader() -> None:
    """The connection's task reads the client; when the pump ends first, it is cancelled."""
    app = RealtimeApp(handler, ping_interval=None)
    session_id = SessionId("r")
    await app.backend.create(SessionInfo(id=session_id, token_hash="0" * 64, created=0.0), 0.0)
    channel = Channel(session_id, "websocket")
    await app.backend.attach(session_id, channel, "websocket", 0, 0.0)
    writer = Recorder()
    reader = asyncio.create_task(asyncio.sleep(30))  # a read that waits for the client
    pump = app.engine.start_pump(channel, app.engine.protocol(channel, 0), 0, writer, reader)
    await asyncio.sleep(0)
    assert not reader.done()
    await app.backend.close(session_id, 1000, "done")
    assert pump.finished is not None
    await asyncio.wait_for(pump.finished, 5)
    assert writer.ended == Close(1000, "done")
    assert pump.reader_stopped
    with pytest.raises(asyncio.CancelledError):
        await reader
