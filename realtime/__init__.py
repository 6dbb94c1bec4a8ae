"""realtime: one Session API over WebSocket, Server-Sent Events and long-polling."""

from realtime.app import RealtimeApp
from realtime.backends import Backend, MemoryBackend
from realtime.exceptions import (
    BackendError,
    InvalidState,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    RealtimeError,
    SessionClosed,
    SessionClosedError,
    SessionClosedOK,
    UnknownSession,
)
from realtime.hub import Hub
from realtime.protocol.frames import CloseCode
from realtime.session import Session
from realtime.types import Message, SessionId, TransportName

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "CloseCode",
    "Hub",
    "InvalidState",
    "MemoryBackend",
    "Message",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "RealtimeApp",
    "RealtimeError",
    "Session",
    "SessionClosed",
    "SessionClosedError",
    "SessionClosedOK",
    "SessionId",
    "TransportName",
    "UnknownSession",
    "__version__",
]
