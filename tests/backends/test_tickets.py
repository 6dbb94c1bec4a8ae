"""Tickets on both backends: single-use, for one session, good until they expire, at most
MAX_TICKETS kept per session (issue 17, row 6)."""

from __future__ import annotations

import secrets

import pytest

from realtime.backends.base import MAX_TICKETS, Backend, SessionInfo
from realtime.types import SessionId

pytestmark = pytest.mark.anyio


async def session(backend: Backend) -> SessionId:
    session_id = SessionId(secrets.token_urlsafe(8))
    assert await backend.create(SessionInfo(session_id, "0" * 64, 0.0), 0.0) == "created"
    return session_id


async def test_a_ticket_is_good_once_for_its_session_only(backend: Backend) -> None:
    mine, other = await session(backend), await session(backend)
    assert await backend.add_ticket(mine, "t1", now=10.0, lifetime=60.0)
    assert not await backend.use_ticket(other, "t1", 11.0)
    assert await backend.use_ticket(mine, "t1", 11.0)
    assert not await backend.use_ticket(mine, "t1", 11.0)  # used up


async def test_a_ticket_expires(backend: Backend) -> None:
    mine = await session(backend)
    await backend.add_ticket(mine, "late", now=10.0, lifetime=60.0)
    await backend.add_ticket(mine, "on-time", now=10.0, lifetime=60.0)
    assert await backend.use_ticket(mine, "on-time", 70.0)
    assert not await backend.use_ticket(mine, "late", 70.5)


async def test_only_the_newest_tickets_are_kept(backend: Backend) -> None:
    mine = await session(backend)
    for number in range(MAX_TICKETS + 2):
        assert await backend.add_ticket(mine, f"t{number}", now=float(number), lifetime=60.0)
    assert not await backend.use_ticket(mine, "t0", 20.0)
    assert not await backend.use_ticket(mine, "t1", 20.0)
    for number in range(2, MAX_TICKETS + 2):
        assert await backend.use_ticket(mine, f"t{number}", 20.0)


async def test_no_ticket_for_an_unknown_session(backend: Backend) -> None:
    assert not await backend.add_ticket(SessionId("nobody"), "t", now=0.0, lifetime=60.0)
    assert not await backend.use_ticket(SessionId("nobody"), "t", 0.0)
