"""Exceptions raised by realtime.

All of them derive from :class:`RealtimeError`::

    RealtimeError
    ├── SessionClosed(code, reason)       send/receive after the session ended
    │   ├── SessionClosedOK               1000 or 1001: ``async for`` simply ends
    │   └── SessionClosedError            any other code
    ├── NegotiationError                  the server refused to open a session (client side)
    │   └── UnknownSession                resume of an unknown or expired session
    ├── ProtocolError                     the peer broke the wire protocol
    ├── PayloadTooBig                     a message over ``max_message_size``
    ├── InvalidState (also RuntimeError)  local misuse, e.g. send() on a closed client
    └── BackendError                      the backend failed (e.g. Redis unreachable)

Bad input from a peer never escapes the protocol core as an exception: the core turns
:class:`ProtocolError` and :class:`PayloadTooBig` into a close code. They are public so
that clients and tests can name them.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "InvalidState",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "RealtimeError",
    "SessionClosed",
    "SessionClosedError",
    "SessionClosedOK",
    "UnknownSession",
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
        if code in (1000, 1001):
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


class ProtocolError(RealtimeError):
    """The peer broke the wire protocol. ``code`` is the close code that answers it."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


class PayloadTooBig(ProtocolError):
    """A message is larger than ``max_message_size``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1009)


class InvalidState(RealtimeError, RuntimeError):
    """The operation is not allowed in the current state (local misuse)."""


class BackendError(RealtimeError):
    """The backend failed, e.g. Redis is unreachable."""
