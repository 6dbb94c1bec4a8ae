"""realtime: one Session API over WebSocket, Server-Sent Events and long-polling.

The names below are loaded on first use, so that ``import realtime.client`` or
``import realtime.protocol`` loads no Starlette, no transport and no backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Backend": "realtime.backends.base",
    "MemoryBackend": "realtime.backends.memory",
    "BackendError": "realtime.exceptions",
    "InvalidState": "realtime.exceptions",
    "NegotiationError": "realtime.exceptions",
    "PayloadTooBig": "realtime.exceptions",
    "ProtocolError": "realtime.exceptions",
    "RealtimeError": "realtime.exceptions",
    "SessionClosed": "realtime.exceptions",
    "SessionClosedError": "realtime.exceptions",
    "SessionClosedOK": "realtime.exceptions",
    "UnknownSession": "realtime.exceptions",
    "CloseCode": "realtime.protocol.codes",
    "RealtimeApp": "realtime.app",
    "Hub": "realtime.server.hub",
    "Session": "realtime.server.session",
    "Settings": "realtime.server.settings",
    "Message": "realtime.types",
    "SessionId": "realtime.types",
    "TransportName": "realtime.types",
}

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
    "Settings",
    "TransportName",
    "UnknownSession",
    "__version__",
]

if TYPE_CHECKING:
    from realtime.app import RealtimeApp
    from realtime.backends.base import Backend
    from realtime.backends.memory import MemoryBackend
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
    from realtime.protocol.codes import CloseCode
    from realtime.server.hub import Hub
    from realtime.server.session import Session
    from realtime.server.settings import Settings
    from realtime.types import Message, SessionId, TransportName


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
