"""Publishing from anywhere: to a room, or to one session by id.

``app.hub`` (and ``session.hub``) works inside a handler and outside any session alike: from
an HTTP endpoint, a background task or another process sharing the backend.
"""

from __future__ import annotations

import time
from typing import Any

from realtime.backends.base import Backend
from realtime.observe import Observer
from realtime.presence import user_room
from realtime.protocol.codes import CloseCode
from realtime.protocol.events import encode_event
from realtime.protocol.frames import check_close_code, check_message, truncate_reason
from realtime.types import Message, SessionId

__all__ = ["Hub"]


class Hub:
    """Rooms and sessions of one :class:`~realtime.RealtimeApp`, seen from the outside.

    Publishing never waits for a slow client: a session whose replay buffer is full is closed
    with ``BUFFER_OVERFLOW`` (its client starts a new session and is told), and the others
    get the message.
    """

    def __init__(
        self, backend: Backend, max_message_size: int | None, observer: Observer | None = None
    ) -> None:
        self._backend = backend
        self._max_message_size = max_message_size
        self._observer = observer if observer is not None else Observer()

    async def publish(self, room: str, data: Message, *, exclude: SessionId | None = None) -> int:
        """Send ``data`` to every session in ``room`` (but ``exclude``).

        Returns:
            How many sessions the message was queued for. A member without room for it
            is closed with BUFFER_OVERFLOW (4005) and not counted; on Redis, a member with a
            connection takes the message from the room's log when it is next read, so it is
            counted, and closed then if it has no room.

        Raises:
            PayloadTooBig: ``data`` is larger than ``max_message_size``.
            TypeError: ``data`` is neither str nor bytes.
        """
        size = check_message(data, self._max_message_size)
        observer = self._observer
        if observer.metrics is None:  # the publishing path: no clock read unless observed
            return await self._backend.publish(room, data, size, exclude)
        started = time.perf_counter()
        count = await self._backend.publish(room, data, size, exclude)
        observer.published(room, recipients=count, size=size, started=started)
        return count

    async def emit(
        self, room: str, name: str, data: Any = None, *, exclude: SessionId | None = None
    ) -> int:
        """Send the event ``name`` with JSON ``data`` to every session in ``room`` (but
        ``exclude``), as :meth:`publish` sends a message. Returns how many it was queued for.

        Raises:
            TypeError: ``data`` is not JSON-serialisable.
            PayloadTooBig: the event is larger than ``max_message_size``.
        """
        return await self.publish(room, encode_event(name, data), exclude=exclude)

    async def emit_to(self, session_id: SessionId | str, name: str, data: Any = None) -> bool:
        """Send the event ``name`` to one session; False if it is unknown, closed or
        overflowing."""
        return await self.send(session_id, encode_event(name, data))

    async def send(self, session_id: SessionId | str, data: Message) -> bool:
        """Send ``data`` to one session; False if it is unknown, closed or overflowing."""
        size = check_message(data, self._max_message_size)
        return await self._backend.offer(SessionId(session_id), data, size)

    async def close(
        self,
        session_id: SessionId | str,
        code: int = CloseCode.NORMAL_CLOSURE,
        reason: str = "",
    ) -> bool:
        """End a session; False if it was unknown or had ended already."""
        check_close_code(code)
        return await self._backend.close(SessionId(session_id), int(code), truncate_reason(reason))

    async def members(self, room: str) -> set[SessionId]:
        """The sessions in ``room``."""
        return await self._backend.members(room)

    # -- Presence and users (realtime.presence says who is who) ---------------------------

    async def presence(self, room: str) -> dict[SessionId, Any]:
        """The sessions in ``room``, each with what ``authenticate`` returned for it; from any
        process sharing the backend. A closed session is in none."""
        return await self._backend.presence(room)

    async def user_sessions(self, user_id: str) -> set[SessionId]:
        """Every live session of the user ``user_id`` (all their tabs)."""
        return await self._backend.members(user_room(str(user_id)))

    async def emit_user(self, user_id: str, name: str, data: Any = None) -> int:
        """Send the event ``name`` to every session of the user ``user_id``; how many."""
        return await self.emit(user_room(str(user_id)), name, data)

    async def publish_user(self, user_id: str, data: Message) -> int:
        """Send a message to every session of the user ``user_id``; how many."""
        return await self.publish(user_room(str(user_id)), data)
