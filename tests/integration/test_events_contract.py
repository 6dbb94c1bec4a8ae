"""The events contract: events, calls and presence behave the same on every transport and
both backends (a real uvicorn on 127.0.0.1, the Python client, a real redis-server)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import realtime.client
from realtime import SessionClosed
from realtime.backends.base import Backend
from realtime.client import Connection
from realtime.events import CallError, CallTimeout
from realtime.testing import FaultProxy
from tests.integration.events_app import build_app
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module", params=["memory", "redis"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    def backend() -> Backend | None:
        if request.param == "memory":
            return None
        from realtime.backends.redis import RedisBackend

        url = request.getfixturevalue("redis_url")
        return RedisBackend(url, prefix=f"ev-{secrets.token_hex(4)}")

    with uvicorn_server(build_app(backend)) as url:
        yield url


@pytest.fixture(params=["websocket", "sse", "longpoll"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def connect(
    base: str, transport: str, mount: str = "events", **options: Any
) -> realtime.client.connect:
    return realtime.client.connect(f"{base}/{mount}", transport=transport, **options)


async def next_event(conn: Connection, timeout: float = 10) -> tuple[str, Any]:
    event = await asyncio.wait_for(conn.next_event(), timeout)
    return event.name, event.data


DATA = [
    None,
    0,
    -1.5,
    "",
    "héllo ✓ 🎉",
    "line\nbreak\r\nand\rreturn",
    [1, [2, {"a": None}]],
    {"k": "v" * 1000},
]


async def test_events_both_ways_keep_their_data_and_order(server: str, transport: str) -> None:
    async with connect(server, transport) as conn:
        for data in DATA:
            await conn.emit("echo", data)
        received = [await next_event(conn) for _ in DATA]
        assert received == [("echo", data) for data in DATA]


async def test_raw_messages_that_look_like_events_stay_raw(server: str, transport: str) -> None:
    lookalikes = ['{"n":"echo","d":1}', 'e1:{"n":"echo","d":1}', "e", "d1:x"]
    async with connect(server, transport) as conn:
        for text in lookalikes:
            await conn.send(text)  # raw, echoed raw by the server
            await conn.emit("raw", text)  # an event asking the server to send it raw
        raw = [await asyncio.wait_for(conn.receive(), 10) for _ in range(2 * len(lookalikes))]
        # Two server tasks send them (the raw echo and the event handler): order between them
        # is theirs; each arrives raw, twice.
        assert sorted(raw) == sorted(text for text in lookalikes for _ in range(2))
        await conn.emit("echo", "after")
        assert await next_event(conn) == ("echo", "after")  # no event came from the raw ones


async def test_500_events_and_500_messages_interleaved_arrive_once_in_order(
    server: str, transport: str
) -> None:
    count = 500
    async with connect(server, transport) as conn:

        async def send_all() -> None:
            for i in range(count):
                await conn.send(f"m{i}")
                await conn.emit("echo", i)

        sender = asyncio.create_task(send_all())
        events = [await next_event(conn, 30) for _ in range(count)]
        raw = [await asyncio.wait_for(conn.receive(), 30) for _ in range(count)]
        await sender
        assert events == [("echo", i) for i in range(count)]
        assert raw == [f"m{i}" for i in range(count)]


async def test_client_calls_are_answered_with_results_and_errors(
    server: str, transport: str
) -> None:
    async with connect(server, transport) as conn:
        assert await conn.call("add", [1, 2, 3]) == 6
        results = await asyncio.gather(*(conn.call("add", [i, i]) for i in range(20)))
        assert results == [2 * i for i in range(20)]
        with pytest.raises(CallError, match="refused on purpose"):
            await conn.call("fail")


async def test_a_client_call_that_gets_no_reply_in_time_says_so(
    server: str, transport: str
) -> None:
    async with connect(server, transport) as conn:
        with pytest.raises(CallTimeout, match="'late' got no reply within 0.2 s"):
            await conn.call("late", 1.0, timeout=0.2)
        # The late reply, when it comes, answers nothing and is dropped; the session goes on.
        await asyncio.sleep(1.0)
        assert await conn.call("add", [4, 5]) == 9


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_server_calls_are_answered_by_the_client_handler(
    server: str, transport: str, kind: str
) -> None:
    async with connect(server, transport) as conn:
        if kind == "sync":
            conn.on("double", lambda x: 2 * x)
        else:

            async def double(x: int) -> int:
                await asyncio.sleep(0.01)
                return 2 * x

            conn.on("double", double)
        await conn.emit("ask", {"name": "double", "x": 21, "timeout": 10})
        assert await next_event(conn) == ("asked", {"result": 42})


async def test_server_calls_see_the_client_handler_error_and_the_timeout(
    server: str, transport: str
) -> None:
    async with connect(server, transport) as conn:

        def broken(x: int) -> None:
            raise ValueError(f"cannot take {x}")

        async def slow(x: int) -> int:
            await asyncio.sleep(1.0)
            return x

        conn.on("broken", broken)
        conn.on("slow", slow)
        await conn.emit("ask", {"name": "broken", "x": 1, "timeout": 10})
        assert await next_event(conn) == ("asked", {"error": "cannot take 1"})
        await conn.emit("ask", {"name": "slow", "x": 1, "timeout": 0.2})
        assert await next_event(conn) == (
            "asked",
            {"timeout": "call 'slow' got no reply within 0.2 s"},
        )


async def test_a_server_call_without_a_client_handler_comes_as_an_event_to_reply_to(
    server: str, transport: str
) -> None:
    async with connect(server, transport) as conn:
        await conn.emit("ask", {"name": "question", "x": "why", "timeout": 10})
        event = await asyncio.wait_for(conn.next_event(), 10)
        assert (event.name, event.data, event.is_call) == ("question", "why", True)
        await event.reply("because")
        assert await next_event(conn) == ("asked", {"result": "because"})


async def test_calls_both_ways_survive_dropped_connections_answered_once(
    server: str, transport: str
) -> None:
    port = int(server.rsplit(":", 1)[1])
    async with FaultProxy(port) as proxy:
        async with connect(
            f"http://127.0.0.1:{proxy.port}", transport, backoff_initial=0.05
        ) as conn:
            conn.on("double", lambda x: 2 * x)

            async def cut_three_times() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.15)
                    proxy.cut()

            cutter = asyncio.create_task(cut_three_times())
            late = asyncio.create_task(conn.call("late", 0.6, timeout=20))
            calls = [conn.call("add", [i, 1], timeout=20) for i in range(50)]
            for i in range(50):
                await conn.emit("ask", {"name": "double", "x": i, "timeout": 20})
            assert await asyncio.gather(*calls) == [i + 1 for i in range(50)]
            asked = [await next_event(conn, 30) for _ in range(50)]
            assert asked == [("asked", {"result": 2 * i}) for i in range(50)]
            assert await late == "late reply"
            await cutter
            assert proxy.cuts >= 3 and conn.reconnects >= 1
            await conn.emit("echo", "end")
            assert await next_event(conn) == ("echo", "end")  # nothing doubled came before


async def test_hub_emits_to_a_room_from_outside(server: str, transport: str) -> None:
    room = f"room-{secrets.token_hex(4)}"
    async with connect(server, transport) as first, connect(server, "longpoll") as second:
        for conn in (first, second):
            await conn.emit("join", room)
            assert await next_event(conn) == ("joined", room)
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{server}/emit", params={"room": room, "name": "news"}, json={"n": 1}
            )
        assert answer.json() == {"queued": 2}
        for conn in (first, second):
            assert await next_event(conn) == ("news", {"n": 1})


async def test_a_kind_the_handler_has_not_read_yet_waits_within_the_window(
    server: str, transport: str
) -> None:
    """The handler reads events only, until asked to read raw messages: the 10 sent before
    (the window is 16) waited, none lost, and the events around them went on."""
    async with connect(server, transport, mount="only-events") as conn:
        for i in range(10):
            await conn.send(f"r{i}")
        await conn.emit("echo", "between")
        assert await next_event(conn) == ("echo", "between")
        await conn.emit("read-raw", 10)
        assert await next_event(conn) == ("raw-read", [f"r{i}" for i in range(10)])


async def test_a_kind_the_handler_never_reads_ends_the_session_past_the_window(
    server: str, transport: str
) -> None:
    async with connect(server, transport, mount="only-events") as conn:
        for i in range(17):
            await conn.send(f"r{i}")
        with pytest.raises(SessionClosed) as ended:
            await asyncio.wait_for(conn.next_event(), 10)
        assert ended.value.code == 1003
        assert ended.value.reason == "16 raw messages wait and the application reads none"


# -- Presence -----------------------------------------------------------------------------


async def test_presence_lists_members_with_their_users_and_announces_joins_and_leaves(
    server: str, transport: str
) -> None:
    room = f"room-{secrets.token_hex(4)}"
    url = f"{server}/presence?room={room}"
    async with contextlib.AsyncExitStack() as stack:

        async def member(user: str, transport: str) -> Connection:
            conn = await stack.enter_async_context(
                realtime.client.connect(f"{url}&user={user}", transport=transport)
            )
            assert await conn.call("rooms") == [room]  # in the room: its join was announced
            return conn

        ada = await member("ada", transport)
        ada2 = await member("ada", "longpoll")
        bob = await member("bob", "sse")
        sessions = {"ada": ada.session_id, "ada2": ada2.session_id, "bob": bob.session_id}
        joins = [await next_event(ada) for _ in range(2)]
        assert joins == [
            ("presence:join", {"room": room, "session": sessions[who], "user": user})
            for who, user in [("ada2", {"id": "ada", "name": "Ada"}), ("bob", BOB)]
        ]
        members = await bob.call("who", room)
        assert members == {
            sessions["ada"]: ADA,
            sessions["ada2"]: ADA,
            sessions["bob"]: BOB,
        }
        assert await next_event(ada2) == ("presence:join", presence_of(room, sessions["bob"], BOB))
        assert await ada2.call("mine") == sorted([sessions["ada"], sessions["ada2"]])
        assert await ada2.call("rooms") == [room]  # the user's own room is the library's
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{server}/emit-user", params={"user": "ada", "name": "dm"}, json="hi ada"
            )
        assert answer.json() == {"queued": 2}
        assert await next_event(ada) == ("dm", "hi ada")
        assert await next_event(ada2) == ("dm", "hi ada")
        await ada2.call("leave", room)  # an announced leave
        assert await next_event(ada) == ("presence:leave", presence_of(room, sessions["ada2"], ADA))
        await bob.close()  # the session ends: its leave is announced
        assert await next_event(ada) == ("presence:leave", presence_of(room, sessions["bob"], BOB))
        assert await ada.call("who", room) == {sessions["ada"]: ADA}
        await ada2.emit("echo", "after")  # it left first: no leave of bob came to it
        assert await next_event(ada2) == ("echo", "after")


ADA = {"id": "ada", "name": "Ada"}
BOB = {"id": "bob", "name": "Bob"}


def presence_of(room: str, session: str, user: dict[str, str]) -> dict[str, Any]:
    return {"room": room, "session": session, "user": user}


async def test_state_is_saved_within_its_bound(server: str, transport: str) -> None:
    async with connect(server, transport, mount="presence") as conn:
        assert await conn.call("inc") == {"count": 1, "restarted": False}
        assert await conn.call("inc") == {"count": 2, "restarted": False}
        assert await conn.call("too-big") == "session state of 70045 bytes is over 65536"


@pytest.mark.expected_errors
async def test_a_user_that_is_not_json_is_refused_at_negotiation(server: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{server}/not-json/negotiate", json={})
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "authenticate returned a Account, which is not JSON-serialisable (Object of "
        "type Account is not JSON serializable); return a dict (e.g. dataclasses.asdict(user)) "
        "or a str",
        "code": 1011,
    }
