"""Small shared types: ids, transport names and message payloads."""

from __future__ import annotations

from typing import Literal, NewType

SessionId = NewType("SessionId", str)
"""The public id of a session. It appears in URLs and logs and grants nothing by itself."""

RoomName = NewType("RoomName", str)

TransportName = Literal["websocket", "sse", "longpoll"]
"""The three transports, spelled the same everywhere: Python, URLs, negotiation JSON, JS."""

TRANSPORT_NAMES: tuple[TransportName, ...] = ("websocket", "sse", "longpoll")

Message = str | bytes
"""What the application sends and receives: text or binary."""
