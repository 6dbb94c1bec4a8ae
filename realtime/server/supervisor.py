"""The handler supervisor: runs each session's handler once, here or in another process.

A session's handler starts with its first connection, in the process that claims it from the
backend; it runs until it returns (the session ends with 1000), raises (1011) or is cancelled
by shutdown (the session lives on, and with a shared backend another process restarts the
handler: ``session.restarted``). The supervisor also expires sessions that waited too long for
a client, and restarts the handlers whose process died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.backends.base import Backend
from realtime.exceptions import SessionClosed, UnknownSession
from realtime.observe import Observer
from realtime.protocol.codes import CloseCode
from realtime.server.hub import Hub
from realtime.server.session import Session, Whereabouts
from realtime.server.settings import Settings
from realtime.types import SessionId, TransportName

__all__ = ["Handler", "Supervisor"]

logger = logging.getLogger("realtime")

Handler = Callable[[Session[Any]], Awaitable[None]]


class Supervisor:
    """Starts, tracks and stops the handlers of the sessions claimed by this process."""

    def __init__(
        self,
        handler: Handler,
        settings: Settings,
        backend: Backend,
        hub: Hub,
        observer: Observer,
        clock: Callable[[], float],
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.backend = backend
        self.hub = hub
        self.observer = observer
        self.clock = clock
        self._running: dict[SessionId, Whereabouts] = {}  # sessions whose handler runs here
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the sessions' transports and start the reaper of expired sessions."""
        self.backend.watch_transports(self._moved)
        self._reaper = asyncio.create_task(self._reap(), name="realtime-reaper")

    async def stop(self) -> None:
        """Cancel every handler and the reaper; the sessions outlive them."""
        tasks = list(self._tasks)
        if self._reaper is not None:
            tasks.append(self._reaper)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._reaper = None

    def _moved(self, session_id: SessionId, transport: TransportName) -> None:
        """A connection of ``session_id`` attached, in any process sharing the backend."""
        whereabouts = self._running.get(session_id)
        if whereabouts is not None:
            whereabouts.transport = transport

    async def ensure(self, session_id: SessionId, transport: TransportName | None) -> None:
        """Start the session's handler here unless it already runs (here or elsewhere)."""
        if session_id in self._running:
            return
        try:
            claim = await self.backend.claim_handler(session_id)
        except UnknownSession:
            return  # it expired meanwhile: the request that asked learns it its own way
        if claim is None:
            return
        info = await self.backend.info(session_id)
        if info is None:
            await self.backend.release_handler(session_id, finished=True)
            return
        whereabouts = Whereabouts(transport)
        session: Session[Any] = Session(
            info,
            backend=self.backend,
            settings=self.settings,
            hub=self.hub,
            whereabouts=whereabouts,
            restarted=claim == "restart",
        )
        self._running[session_id] = whereabouts
        if claim == "restart":
            try:
                await session._restore()  # the state the previous handler saved
            except BaseException:
                self._running.pop(session_id, None)
                await self.backend.release_handler(session_id, finished=False)
                raise
        task = asyncio.create_task(self._run(session), name=f"realtime-handler-{session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session: Session[Any]) -> None:
        code: int = CloseCode.NORMAL_CLOSURE
        reason = ""
        cancelled = False
        try:
            await self.handler(session)
        except SessionClosed:
            pass
        except asyncio.CancelledError:
            cancelled = True  # shutdown: the session outlives this process's handler
            raise
        except Exception:
            logger.exception("handler of session %s raised", session.id)
            code, reason = CloseCode.INTERNAL_ERROR, "internal error"
        finally:
            self._running.pop(session.id, None)
            with contextlib.suppress(Exception):
                if not cancelled:
                    await self.backend.close(session.id, code, reason)
                    await session._announce_leaves()  # never on shutdown: the session lives on
                    ended = await self.backend.snapshot(session.id)  # the first close wins
                    if ended is not None and ended.close_code is not None:
                        code, reason = ended.close_code, ended.close_reason
                    self.observer.closed(
                        session.id, session.transport, code, reason, user=session.user
                    )
                await self.backend.release_handler(session.id, finished=not cancelled)

    async def _reap(self) -> None:
        interval = min(1.0, self.settings.session_ttl / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                for session_id in await self.backend.expire(
                    self.clock(), self.settings.session_ttl
                ):
                    self.observer.expired(session_id)
                for session_id in await self.backend.orphans():
                    snapshot = await self.backend.snapshot(session_id)
                    if snapshot is not None:
                        await self.ensure(session_id, snapshot.transport)
            except Exception:
                logger.exception("expiring sessions failed")
