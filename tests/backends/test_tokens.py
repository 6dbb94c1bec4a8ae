"""Token rotation on both backends (issue 17, row 6): a token handed out replaces the current
one when first presented; the one before stays good for TOKEN_GRACE seconds; the others
handed out are dropped."""

from __future__ import annotations

import secrets

import pytest

from realtime.backends.base import MAX_WAITING_TOKENS, TOKEN_GRACE, Backend, SessionInfo
from realtime.types import SessionId

pytestmark = pytest.mark.anyio

FIRST = "a" * 64


async def session(backend: Backend) -> SessionId:
    session_id = SessionId(secrets.token_urlsafe(8))
    assert await backend.create(SessionInfo(session_id, FIRST, 0.0), 0.0) == "created"
    return session_id


async def test_the_token_it_was_created_with_is_good_until_a_newer_one_is_used(
    backend: Backend,
) -> None:
    sid = await session(backend)
    assert await backend.check_token(sid, FIRST, 1000.0)
    assert not await backend.check_token(sid, "b" * 64, 1.0)
    assert await backend.rotate_token(sid, "n1")
    assert await backend.check_token(sid, FIRST, 1000.0)  # not used yet: nothing changed
    assert await backend.check_token(sid, "n1", 2000.0)  # used: n1 is the token now
    assert await backend.check_token(sid, FIRST, 2000.0 + TOKEN_GRACE)  # requests in flight
    assert not await backend.check_token(sid, FIRST, 2000.5 + TOKEN_GRACE)
    assert await backend.check_token(sid, "n1", 9999.0)


async def test_using_one_token_handed_out_drops_the_others(backend: Backend) -> None:
    sid = await session(backend)
    await backend.rotate_token(sid, "raced-1")  # two connections raced: two hellos
    await backend.rotate_token(sid, "raced-2")
    assert await backend.check_token(sid, "raced-2", 10.0)
    assert not await backend.check_token(sid, "raced-1", 10.0)
    await backend.rotate_token(sid, "next")
    assert await backend.check_token(sid, "next", 20.0)
    assert await backend.check_token(sid, "raced-2", 20.0)  # the previous one, in its grace
    assert not await backend.check_token(sid, FIRST, 20.0)  # two back: gone


async def test_only_the_newest_tokens_handed_out_wait(backend: Backend) -> None:
    sid = await session(backend)
    for number in range(MAX_WAITING_TOKENS + 1):
        await backend.rotate_token(sid, f"n{number}")
    assert not await backend.check_token(sid, "n0", 1.0)
    assert await backend.check_token(sid, f"n{MAX_WAITING_TOKENS}", 1.0)


async def test_no_token_for_an_unknown_session(backend: Backend) -> None:
    assert not await backend.rotate_token(SessionId("nobody"), "t")
    assert not await backend.check_token(SessionId("nobody"), FIRST, 0.0)
