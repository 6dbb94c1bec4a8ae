"""The wake-ups of realtime.wakeup: Signal (no memory) and Flag (an event, one waiter)."""

from __future__ import annotations

import asyncio

import pytest

from realtime.wakeup import Flag, Signal

pytestmark = pytest.mark.anyio


async def test_flag_wakes_its_waiter_and_stays_set_until_cleared() -> None:
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    flag.set()
    await asyncio.wait_for(waiter, 1)
    assert flag.is_set()
    await asyncio.wait_for(flag.wait(), 1)  # already set: returns at once
    flag.clear()
    assert not flag.is_set()
    again = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)  # one loop turn: the task runs to its wait
    assert not again.done()
    flag.set()
    await asyncio.wait_for(again, 1)


async def test_flag_survives_a_cancelled_wait_and_refuses_two_waiters() -> None:
    flag = Flag()
    cancelled = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await flag.wait()
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    flag.set()  # no waiter left: nothing to wake, and no error
    flag.clear()
    waiter = asyncio.create_task(flag.wait())  # the cancelled wait left no waiter behind
    await asyncio.sleep(0)
    flag.set()
    await asyncio.wait_for(waiter, 1)


async def test_signal_wakes_only_those_waiting_then() -> None:
    signal = Signal()
    waiters = [asyncio.create_task(signal.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    signal.notify()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    signal.notify()  # nobody waits: not remembered
    assert await signal.wait(timeout=0.01) is False
