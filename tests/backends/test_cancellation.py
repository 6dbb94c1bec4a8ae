"""A cancellation that redis-py swallows (it retries the command it interrupted) is raised
again by the Redis backend, so that its loops and a server's shutdown still end."""

from __future__ import annotations

import asyncio

import pytest

from realtime.backends.redis.cancellation import raise_if_cancelled

pytestmark = pytest.mark.anyio


async def test_a_swallowed_cancellation_is_raised_again() -> None:
    steps: list[str] = []

    async def loop_around_a_library_that_swallows() -> None:
        for _ in range(100):
            try:
                await asyncio.sleep(1)  # the library's read, interrupted...
            except asyncio.CancelledError:
                steps.append("swallowed")  # ...and retried as if nothing happened
            raise_if_cancelled()
            steps.append("ran on")

    task = asyncio.create_task(loop_around_a_library_that_swallows())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert steps == ["swallowed"]


async def test_nothing_is_raised_without_a_cancellation_or_after_a_handled_one() -> None:
    raise_if_cancelled()  # not cancelled: nothing happens
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):  # a timeout cancels, then uncancels the task
            await asyncio.sleep(1)
    raise_if_cancelled()
