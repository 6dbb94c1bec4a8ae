"""Wake-ups lighter than ``asyncio.Event``, which holds a deque (a 64-slot block) for life.

:class:`Signal` has no memory: ``notify`` wakes whoever waits at that moment. Callers check
their condition, then wait, with no ``await`` in between; so a notification cannot fall
between the check and the wait. There is nothing to clear, and any number of tasks may wait.

:class:`Flag` is an event for one waiter at a time, as each transport connection has.
"""

from __future__ import annotations

import asyncio

__all__ = ["Flag", "Signal", "wait_event"]


class Signal:
    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the next :meth:`notify`; return False if ``timeout`` seconds passed first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if timeout is None:
                await waiter
                return True
            try:
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                return False
            return True
        finally:
            if not waiter.done():
                waiter.cancel()
            if self._waiters and waiter in self._waiters:
                self._waiters.remove(waiter)


class Flag:
    """``asyncio.Event``'s set / clear / is_set / wait, for one waiter at a time."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        """Return once the flag is set (at once if it is)."""
        if self._set:
            return
        if self._waiter is not None:
            raise RuntimeError("Flag.wait: another task is already waiting")
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` up to ``timeout`` seconds (None: no limit); return whether it is set.

    Uses ``asyncio.timeout``: Python 3.11's ``asyncio.wait_for`` can lose or stall on a
    cancellation that races with the wait (rewritten in 3.12 for that reason).
    """
    if timeout is None:
        await event.wait()
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()
