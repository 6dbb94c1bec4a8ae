"""Refusals: a request turned away before it reached its session.

Each is an HTTP status, a close code and a reason, so that every transport can say it its
own way: an HTTP answer (``{"error": reason, "code": code}``), or on a WebSocket that was
already accepted, the close or reconnect frame the code calls for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.responses import JSONResponse

from realtime.observe import escape
from realtime.protocol.codes import CloseCode, reconnect_policy
from realtime.protocol.frames import Close, Reconnect

logger = logging.getLogger("realtime")

__all__ = [
    "is_origin_refusal",
    "origin_refused",
    "BACKEND_UNAVAILABLE",
    "CLIENT_FULL",
    "DRAINING",
    "ORIGIN_REFUSED",
    "SERVER_FULL",
    "UNKNOWN_SESSION",
    "WRONG_TOKEN",
    "Refusal",
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused: an HTTP status and a close code."""

    status: int
    code: int
    reason: str

    def frame(self) -> Close | Reconnect:
        """The frame that ends a connection refused this way: a reconnect when the client
        should come back to the same session, a close otherwise."""
        if reconnect_policy(self.code) == "resume":
            return Reconnect(self.code, self.reason)
        return Close(self.code, self.reason)

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.reason, "code": self.code},
            status_code=self.status,
            headers={"cache-control": "no-store"},
        )


ORIGIN_REFUSED = Refusal(403, CloseCode.POLICY_VIOLATION, "origin not allowed")
"""The shape of every Origin refusal (status and code); :func:`origin_refused` says why."""


def origin_refused(reason: str) -> Refusal:
    """An Origin refusal that says which Origin was compared with what."""
    logger.warning(
        "refused a request: %s; to allow it, set allowed_origins, or public_origins behind a "
        "proxy that changes the Host",
        escape(reason),
    )
    return Refusal(ORIGIN_REFUSED.status, ORIGIN_REFUSED.code, reason)


def is_origin_refusal(refusal: Refusal) -> bool:
    return (refusal.status, refusal.code) == (ORIGIN_REFUSED.status, ORIGIN_REFUSED.code)


UNKNOWN_SESSION = Refusal(404, CloseCode.SESSION_EXPIRED, "unknown or expired session")
WRONG_TOKEN = Refusal(403, CloseCode.FORBIDDEN, "wrong or missing token for this session")
DRAINING = Refusal(503, CloseCode.SERVICE_RESTART, "server shutting down: reconnect")
BACKEND_UNAVAILABLE = Refusal(503, CloseCode.BACKEND_UNAVAILABLE, "backend unavailable: retry")
SERVER_FULL = Refusal(503, CloseCode.TRY_AGAIN_LATER, "too many sessions: try again later")
CLIENT_FULL = Refusal(429, CloseCode.TRY_AGAIN_LATER, "too many sessions from this address")
