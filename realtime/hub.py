"""Publishing from anywhere: to a room, or to one session by id.

``app.hub`` (and ``session.hub``) works inside a handler and outside any session alike: from
an HTTP endpoint, a background task or another process sharing the backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime.protocol.frames import check_close_code, truncate_reason
from realtime.types import Message, SessionId

if TYPE_CHECKING:
    from realtime.app import RealtimeApp

__all__ = ["Hub"]


class Hub:
    """Rooms and sessions of one :class:`~realtime.RealtimeApp`, seen from the outside.

    Publishing never waits for a slow client: a session whose replay buffer is full is closed
    with ``BUFFER_OVERFLOW`` (its client starts a new session and is told), and the others
    get the message.
    """

    def __init__(self, app: RealtimeApp) -> None:
        self._app = app

    async def publish(self, room: str, data: Message, *, exclude: SessionId | None = None) -> int:
        """Send ``data`` to every session in ``room`` (but ``exclude``).

        Returns:
            How many sessions the message was queued for.

        Raises:
            PayloadTooBig: ``data`` is larger than ``max_message_size``.
            TypeError: ``data`` is neither str nor bytes.
        """
        size = self._app._check_outgoing(data)
        return await self._app.backend.publish(room, data, size, exclude)

    async def send(self, session_id: SessionId | str, data: Message) -> bool:
        """Send ``data`` to one session; False if it is unknown, closed or overflowing."""
        size = self._app._check_outgoing(data)
        return await self._app.backend.offer(SessionId(session_id), data, size)

    async def close(self, session_id: SessionId | str, code: int = 1000, reason: str = "") -> bool:
        """End a session; False if it was unknown or had ended already."""
        check_close_code(code)
        return await self._app.backend.close(
            SessionId(session_id), int(code), truncate_reason(reason)
        )

    async def members(self, room: str) -> set[SessionId]:
        """The sessions in ``room``."""
        return await self._app.backend.members(room)
