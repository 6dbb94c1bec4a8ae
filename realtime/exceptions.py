"""Exceptions raised by realtime: one tree, one root.

::

    RealtimeError
    ├── SessionClosed(code, reason)       send/receive after the session ended
    │   ├── SessionClosedOK               1000 or 1001: ``async for`` simply ends
    │   └── SessionClosedError            any other code
    ├── NegotiationError                  the server refused to open a session (client side)
    │   └── UnknownSession                an unknown or expired session (404, 4000)
    ├── ProtocolError                     the peer broke the wire protocol
    │   └── PayloadTooBig                 a message over ``max_message_size``
    ├── WindowExceeded                    a bound on what one session holds was reached
    │   ├── BufferFull                    outgoing: the client acknowledges too slowly
    │   ├── InboxFull                     incoming: the client sent past its window
    │   ├── OverBudget                    incoming: its address's sessions hold their budget
    │   └── RateLimited                   incoming: the client sent past its rate limit
    ├── ReplayGap                         messages asked for were already dropped
    ├── InvalidState (also RuntimeError)  local misuse, e.g. send() on a closed client
    └── BackendError                      the backend failed (e.g. Redis unreachable)

Bad input from a peer never escapes to the application as an exception: the server turns
each of these into a close code (one table does it: :mod:`realtime.server.engine`). They are
public so that backends, clients and tests can name them.
"""

from __future__ import annotations

from realtime.protocol.codes import CloseCode

__all__ = [
    "BackendError",
    "BufferFull",
    "InboxFull",
    "InvalidState",
    "NegotiationError",
    "OverBudget",
    "PayloadTooBig",
    "ProtocolError",
    "RateLimited",
    "RealtimeError",
    "ReplayGap",
    "SessionClosed",
    "SessionClosedError",
    "SessionClosedOK",
    "UnknownSession",
    "WindowExceeded",
]


class RealtimeError(Exception):
    """Base class of every exception raised by realtime."""


class SessionClosed(RealtimeError):
    """The session ended; ``code`` and ``reason`` say how.

    Raised by ``send`` and ``receive`` once the session is over. Use
    ``SessionClosed.create(code, reason)`` to get the right subclass.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    @staticmethod
    def create(code: int, reason: str = "") -> SessionClosed:
        """Return :class:`SessionClosedOK` for 1000/1001, :class:`SessionClosedError` otherwise."""
        if code in (CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY):
            return SessionClosedOK(code, reason)
        return SessionClosedError(code, reason)

    def __str__(self) -> str:
        return f"session closed with code {self.code}" + (f": {self.reason}" if self.reason else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class SessionClosedOK(SessionClosed):
    """The session ended normally (1000 or 1001)."""


class SessionClosedError(SessionClosed):
    """The session ended with an error code."""


class NegotiationError(RealtimeError):
    """The server refused to open or resume a session.

    ``status`` is the HTTP status when there was one, ``code`` the close code the refusal maps to.
    """

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class UnknownSession(NegotiationError):
    """The session is unknown or has expired; a client must start a new one."""

    def __init__(self, message: str = "unknown or expired session") -> None:
        super().__init__(message, status=404, code=CloseCode.SESSION_EXPIRED)


class ProtocolError(RealtimeError):
    """The peer broke the wire protocol. ``code`` is the close code that answers it."""

    def __init__(self, message: str, code: int = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


class PayloadTooBig(ProtocolError):
    """A message is larger than ``max_message_size``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, CloseCode.MESSAGE_TOO_BIG)


class WindowExceeded(RealtimeError):
    """A bound on what one session may hold or take was reached."""


class BufferFull(WindowExceeded):
    """The replay buffer holds as many unacknowledged messages (or bytes) as allowed."""


class InboxFull(WindowExceeded):
    """The client sent more unacknowledged messages than its window allows."""


class OverBudget(WindowExceeded):
    """The sessions of the client's address (``max_client_bytes``), or of the whole server
    (``max_total_bytes``), hold as many bytes as they may: the message was not taken. The
    client's connection ends with 1013 and it resends after a backoff; its session lives on."""


class RateLimited(WindowExceeded):
    """The client sent messages faster than its session's rate limit."""


class ReplayGap(RealtimeError):
    """The messages a peer asks for were already dropped from the buffer."""

    def __init__(self, requested: int, first_available: int) -> None:
        super().__init__(f"cannot replay after {requested}: the buffer starts at {first_available}")
        self.requested = requested
        self.first_available = first_available


class InvalidState(RealtimeError, RuntimeError):
    """The operation is not allowed in the current state (local misuse)."""


class BackendError(RealtimeError):
    """The backend failed, e.g. Redis is unreachable."""
