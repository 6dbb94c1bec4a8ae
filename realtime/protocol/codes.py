"""Close codes: the same numbers on every transport, and what a client does after each.

This module imports nothing, so that every other one (exceptions included) can name codes.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

__all__ = [
    "ABNORMAL_CLOSURE",
    "CLOSE_CODE_EXPLANATIONS",
    "RECONNECT_POLICY",
    "CloseCode",
    "ReconnectPolicy",
    "reconnect_policy",
]

ABNORMAL_CLOSURE = 1006
"""What a WebSocket reports when it dropped without a close frame. Never sent: only seen."""


class CloseCode(IntEnum):
    """Close codes, the same numbers on every transport.

    RFC 6455 values where the meaning matches; the library's own codes use 4000-4099 of the
    private range (4000-4999). Applications may close with 1000, 3000-3999 and 4100-4999.
    """

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    SESSION_EXPIRED = 4000
    PING_TIMEOUT = 4001
    TRANSPORT_REPLACED = 4002
    FORBIDDEN = 4003
    REPLAY_GAP = 4004
    BUFFER_OVERFLOW = 4005
    RATE_LIMITED = 4006
    UNAUTHORIZED = 4007
    BACKEND_UNAVAILABLE = 4008
    HANDLER_LOST = 4009


CLOSE_CODE_EXPLANATIONS: dict[int, str] = {
    CloseCode.NORMAL_CLOSURE: "normal closure",
    CloseCode.GOING_AWAY: "going away",
    CloseCode.PROTOCOL_ERROR: "protocol error",
    CloseCode.UNSUPPORTED_DATA: "unsupported data",
    CloseCode.INVALID_DATA: "invalid data",
    CloseCode.POLICY_VIOLATION: "policy violation",
    CloseCode.MESSAGE_TOO_BIG: "message too big",
    CloseCode.INTERNAL_ERROR: "internal error",
    CloseCode.SERVICE_RESTART: "service restart: reconnect and resume",
    CloseCode.TRY_AGAIN_LATER: "try again later",
    CloseCode.SESSION_EXPIRED: "unknown or expired session",
    CloseCode.PING_TIMEOUT: "heartbeat timeout: reconnect and resume",
    CloseCode.TRANSPORT_REPLACED: "a newer connection took over the session",
    CloseCode.FORBIDDEN: "wrong token for this session",
    CloseCode.REPLAY_GAP: "missed messages can no longer be replayed",
    CloseCode.BUFFER_OVERFLOW: "too many unacknowledged messages (slow consumer)",
    CloseCode.RATE_LIMITED: "message rate limit exceeded",
    CloseCode.UNAUTHORIZED: "authentication refused",
    CloseCode.BACKEND_UNAVAILABLE: "backend unavailable: reconnect and resume",
    CloseCode.HANDLER_LOST: "the session's handler was lost",
}

ReconnectPolicy = Literal["resume", "new", "stop"]
"""What a client does after a close: resume the same session, start a new one and tell the
application (never a silent gap), or stop for good."""

RECONNECT_POLICY: dict[int, ReconnectPolicy] = {
    ABNORMAL_CLOSURE: "resume",  # no close frame: the connection dropped
    CloseCode.SERVICE_RESTART: "resume",
    CloseCode.TRY_AGAIN_LATER: "resume",
    CloseCode.PING_TIMEOUT: "resume",
    CloseCode.BACKEND_UNAVAILABLE: "resume",
    CloseCode.SESSION_EXPIRED: "new",
    CloseCode.REPLAY_GAP: "new",
    CloseCode.BUFFER_OVERFLOW: "new",
    CloseCode.HANDLER_LOST: "new",
}


def reconnect_policy(code: int) -> ReconnectPolicy:
    """Return what a client does after ``code``; every code not listed stops."""
    return RECONNECT_POLICY.get(code, "stop")
