"""Backends hold every session's state and the rooms."""

from realtime.backends.base import Backend, Listener, Pending, SessionInfo, SessionSnapshot
from realtime.backends.memory import MemoryBackend

__all__ = ["Backend", "Listener", "MemoryBackend", "Pending", "SessionInfo", "SessionSnapshot"]
