"""The systems under test, their bench apps, and their client per transport."""

from __future__ import annotations

from bench.loadgen.base import Client, Target
from bench.loadgen.raw import RawLongPoll, RawSSE, RawWebSocket
from bench.loadgen.realtime import RealtimeLongPoll, RealtimeSSE, RealtimeWebSocket
from bench.loadgen.socketio import SocketIOPolling, SocketIOWebSocket

__all__ = ["APPS", "CLIENTS", "LABELS", "SYSTEMS", "TRANSPORTS", "client_class", "not_available"]

SYSTEMS = ("raw", "realtime", "socketio")
LABELS = {"raw": "raw Starlette", "realtime": "realtime", "socketio": "python-socketio"}
APPS = {
    "raw": "bench.apps.raw_app:app",
    "realtime": "bench.apps.realtime_app:app",
    "socketio": "bench.apps.socketio_app:app",
}
TRANSPORTS = ("websocket", "sse", "longpoll")

ClientClass = type[Client]
CLIENTS: dict[tuple[str, str], ClientClass] = {
    ("raw", "websocket"): RawWebSocket,
    ("raw", "sse"): RawSSE,
    ("raw", "longpoll"): RawLongPoll,
    ("realtime", "websocket"): RealtimeWebSocket,
    ("realtime", "sse"): RealtimeSSE,
    ("realtime", "longpoll"): RealtimeLongPoll,
    ("socketio", "websocket"): SocketIOWebSocket,
    ("socketio", "longpoll"): SocketIOPolling,  # Engine.IO's "polling" transport
}
NOT_AVAILABLE = {("socketio", "sse"): "python-socketio has no SSE transport"}


def client_class(system: str, transport: str) -> ClientClass:
    return CLIENTS[system, transport]


def not_available(system: str, transport: str | None) -> str | None:
    """Why ``system`` cannot run a scenario on ``transport``, or None if it can."""
    if transport is None:
        return None
    return NOT_AVAILABLE.get((system, transport))


def new_client(system: str, transport: str, target: Target) -> Client:
    return CLIENTS[system, transport](target)
