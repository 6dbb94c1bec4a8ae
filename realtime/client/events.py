"""Events and calls of the Python client: the part of :class:`~realtime.client.Connection`
that speaks in named JSON events (see :mod:`realtime.events` for the rules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from realtime.events import Event, Handler, Router
from realtime.exceptions import SessionClosedOK

__all__ = ["EventsMixin"]


class EventsMixin:
    """``emit``, ``events``, ``call`` and ``on`` of a connection."""

    _router: Router
    _pump: asyncio.Task[None] | None

    async def emit(self, name: str, data: Any = None) -> None:
        """Send the event ``name`` with JSON ``data``; waits and raises as ``send`` does
        (``TypeError`` if ``data`` is not JSON)."""
        await self._router.emit(name, data)

    async def next_event(self) -> Event:
        """The next event (or call) from the server that no ``on`` handler takes.

        Raises:
            SessionClosed: the session ended (events received before come first).
        """
        return await self._router.next_event()

    async def events(self) -> AsyncIterator[Event]:
        """The server's events and calls without an ``on`` handler, in order, until the
        session ends normally. Answer a call with ``await event.reply(result)``."""
        try:
            while True:
                yield await self.next_event()
        except SessionClosedOK:
            return

    async def call(self, name: str, data: Any = None, *, timeout: float | None = 10.0) -> Any:
        """Call the server: its handler answers with ``await event.reply(result)``.

        Raises:
            CallTimeout: no reply within ``timeout`` seconds.
            CallError: the server answered with an error (``event.fail``).
            SessionClosed: the session ended first.
        """
        return await self._router.call(name, data, timeout)

    def on(self, name: str, handler: Handler) -> None:
        """Handle the server's events (and calls) named ``name`` with ``handler(data)``,
        sync or async; for a call, what it returns is the reply (what it raises, the error).
        The client reads for its handlers from now on, whether or not the application
        reads too."""
        self._router.handlers[name] = handler
        if self._pump is None:
            self._pump = asyncio.create_task(self._router.pump(), name="realtime-client-events")

    async def _stop_events(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self._router.aclose()
