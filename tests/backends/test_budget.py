"""The byte budgets on both backends: what the sessions of one client address, and of all
addresses, hold in their queues (issue 17, row 1). The same answers from every backend."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from realtime.backends.base import Backend, SessionInfo
from realtime.exceptions import BufferFull, OverBudget
from realtime.types import SessionId

pytestmark = pytest.mark.anyio

ADA, BOB = "10.0.0.1", "10.0.0.2"


async def session_of(
    backend: Backend, client: str, max_client_bytes: int | None = 100, total: int | None = None
) -> SessionId:
    session_id = SessionId(secrets.token_urlsafe(8))
    info = SessionInfo(
        id=session_id,
        token_hash="0" * 64,
        created=0.0,
        client=client,
        max_queue=None,
        max_buffer_bytes=None,
        max_client_bytes=max_client_bytes,
        max_total_bytes=total,
    )
    assert await backend.create(info, 0.0) == "created"
    return session_id


async def test_messages_from_one_address_stop_at_its_budget(backend: Backend) -> None:
    one, two = await session_of(backend, ADA), await session_of(backend, ADA)
    other = await session_of(backend, BOB)
    assert await backend.deliver(one, 1, "a" * 60, 60, 0.0) == 0
    with pytest.raises(OverBudget, match="max_client_bytes"):
        await backend.deliver(two, 1, "b" * 60, 60, 0.0)
    assert await backend.deliver(other, 1, "c" * 60, 60, 0.0) == 0  # another address: its own
    assert await backend.receive(one) == "a" * 60  # the handler reads: the bytes are free
    assert await backend.deliver(two, 1, "b" * 60, 60, 0.0) == 0  # taken when resent
    assert await backend.receive(two) == "b" * 60


async def test_messages_to_one_address_stop_at_its_budget(backend: Backend) -> None:
    one, two = await session_of(backend, ADA), await session_of(backend, ADA)
    await backend.push(one, "a" * 60, 60, 0)
    with pytest.raises(BufferFull):
        await backend.push(two, "b" * 60, 60, 0)
    other = await session_of(backend, BOB)
    await backend.push(other, "c" * 60, 60, 0)
    await backend.ack(one, 1)
    await backend.push(two, "b" * 60, 60, 0)


async def test_a_publish_past_the_budget_ends_the_member_with_4005(backend: Backend) -> None:
    holder, member = await session_of(backend, ADA), await session_of(backend, ADA)
    other = await session_of(backend, BOB)
    await backend.push(holder, "a" * 90, 90, 0)
    for session_id in (member, other):
        await backend.join(session_id, "room")
    assert await backend.publish("room", "x" * 20, 20) == 1
    snapshot = await backend.snapshot(member)
    assert snapshot is not None and snapshot.close_code == 4005
    assert "max_client_bytes" in snapshot.close_reason
    assert [data for _, data in (await backend.pending(other, 0, None, None)).messages] == [
        "x" * 20
    ]


async def test_a_sender_waiting_for_the_budget_goes_on_when_another_session_frees_it(
    backend: Backend,
) -> None:
    holder, waiting = await session_of(backend, ADA), await session_of(backend, ADA)
    await backend.push(holder, "a" * 90, 90, 0)
    sender = asyncio.create_task(backend.push(waiting, "b" * 20, 20, 5.0))
    await asyncio.sleep(0.05)
    assert not sender.done()
    await backend.ack(holder, 1)
    async with asyncio.timeout(2):
        await sender
    assert len((await backend.pending(waiting, 0, None, None)).messages) == 1


async def test_the_total_bounds_every_address(backend: Backend) -> None:
    ada = await session_of(backend, ADA, total=150)
    bob = await session_of(backend, BOB, total=150)
    await backend.push(ada, "a" * 100, 100, 0)
    await backend.push(bob, "b" * 40, 40, 0)
    with pytest.raises(OverBudget, match="max_total_bytes"):
        await backend.deliver(bob, 1, "c" * 20, 20, 0.0)


async def test_a_forgotten_session_gives_its_bytes_back(backend: Backend) -> None:
    gone = await session_of(backend, ADA)
    await backend.push(gone, "a" * 60, 60, 0)
    await backend.deliver(gone, 1, "b" * 30, 30, 0.0)
    await backend.close(gone, 1000, "bye")
    await backend.expire(1.0, 10.0)  # the reaper notices the close
    await backend.expire(100.0, 10.0)  # and forgets the session a ttl later
    assert await backend.snapshot(gone) is None
    fresh = await session_of(backend, ADA)
    await backend.push(fresh, "c" * 100, 100, 0)
    with pytest.raises(BufferFull):
        await backend.push(fresh, "d", 1, 0)  # the fresh session holds the budget now
