"""Drain when the process is asked to stop, whatever server runs the app.

uvicorn (and servers like it) answer SIGINT and SIGTERM by waiting for open responses to
finish before they run the lifespan shutdown; an event stream or a pending long-poll never
finishes by itself, so the server would wait out its graceful timeout, then cancel them (with
an ERROR in its log) while their clients hear nothing. So the app listens too: it wraps the
process's handlers of both signals, calls the server's own handler as before, and drains its
connections at once, telling every client to reconnect (1012) on every transport.

Only handlers that are Python callables are wrapped (a server's, or Python's own for SIGINT);
a signal left to the system's default or ignored stays so. Signals are handled in the main
thread only: an app served from another thread (as tests do) drains through its lifespan.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["SignalDrain"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_Handler = Callable[[int, FrameType | None], Any]


class SignalDrain:
    """Calls ``on_signal`` in the event loop when SIGINT or SIGTERM arrives."""

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
        self._previous: dict[int, _Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def installed(self) -> bool:
        """Whether a signal now drains (between :meth:`install` and :meth:`uninstall`)."""
        return self._loop is not None

    def install(self) -> None:
        """Wrap the current handlers (from the event loop's thread; main thread only)."""
        if self._loop is not None or threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if previous == self._handle:
                continue  # still in the chain since the last uninstall
            if callable(previous):
                self._previous[signum] = previous
                signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        """Put the wrapped handlers back. Where another handler wrapped this one in turn, this
        one stays in the chain, passing signals on and doing nothing else."""
        for signum, previous in list(self._previous.items()):
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
                del self._previous[signum]
        self._loop = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_signal)
        previous = self._previous.get(signum)
        if previous is not None:
            previous(signum, frame)
