"""Negotiation: the request a client POSTs to ``<mount>/negotiate`` and the answer it gets.

The request body is optional; when present it is a JSON object ``{"v": 1, "transports":
[...]}``: the protocol version the client speaks and the transports it can use. In the
answer, durations travel in milliseconds, sizes in bytes; ``null`` means "no limit"/"disabled".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from realtime.exceptions import ProtocolError
from realtime.protocol.frames import PROTOCOL_VERSION
from realtime.types import TRANSPORT_NAMES, TransportName

__all__ = ["Negotiated", "decode_request", "encode_request"]


def encode_request(transports: Sequence[str]) -> dict[str, Any]:
    """The negotiation request of a client that can use ``transports``."""
    return {"v": PROTOCOL_VERSION, "transports": list(transports)}


def decode_request(body: bytes) -> frozenset[str] | None:
    """The transports a negotiation request asks for (None: any). An empty body asks for any.

    Raises:
        ProtocolError: the body is not a JSON object, names another protocol version, or its
            ``transports`` is not a list of names.
    """
    if not body.strip():
        return None
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("negotiation body is not JSON") from None
    if not isinstance(fields, dict):
        raise ProtocolError("negotiation body is not a JSON object")
    version = fields.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {version!r}")
    transports = fields.get("transports")
    if transports is None:
        return None
    if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
        raise ProtocolError("'transports' must be a list of names")
    return frozenset(transports)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _seconds(value: object, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"negotiation field {name!r} must be a non-negative integer")
    return value / 1000


def _rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ProtocolError("negotiation field 'max_rate' must be a positive number or null")
    return value


def _size(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolError(f"negotiation field {name!r} must be a positive integer or null")
    return value


@dataclass(frozen=True, slots=True)
class Negotiated:
    """A new session, as the server announces it."""

    session_id: str
    token: str
    transports: tuple[TransportName, ...]
    ping_interval: float | None
    ping_timeout: float | None
    poll_timeout: float
    session_ttl: float
    max_message_size: int | None
    max_queue: int | None
    max_buffer_bytes: int | None
    max_batch: int | None
    max_rate: float | None = None
    """Messages per second the client may send, on average (None: no limit)."""
    max_burst: int | None = None
    """Messages the client may send at once above ``max_rate``."""
    ticket: str | None = None
    """A single-use credential for the one URL that must carry one (an EventSource's)."""
    version: int = PROTOCOL_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "sid": self.session_id,
            "token": self.token,
            "transports": list(self.transports),
            "ping_interval_ms": _ms(self.ping_interval),
            "ping_timeout_ms": _ms(self.ping_timeout),
            "poll_timeout_ms": _ms(self.poll_timeout),
            "session_ttl_ms": _ms(self.session_ttl),
            "max_message_size": self.max_message_size,
            "max_queue": self.max_queue,
            "max_buffer_bytes": self.max_buffer_bytes,
            "max_batch": self.max_batch,
            "max_rate": self.max_rate,
            "max_burst": self.max_burst,
            "ticket": self.ticket,
        }

    @classmethod
    def from_json(cls, body: object) -> Negotiated:
        """Parse the server's answer. Raises ``ProtocolError`` if it is malformed."""
        if not isinstance(body, dict):
            raise ProtocolError("negotiation answer is not a JSON object")
        version = body.get("v")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"unsupported protocol version {version!r}")
        sid, token, transports = body.get("sid"), body.get("token"), body.get("transports")
        if not isinstance(sid, str) or not sid or not isinstance(token, str) or not token:
            raise ProtocolError("negotiation answer without 'sid' and 'token'")
        if not isinstance(transports, list):
            raise ProtocolError("negotiation answer without a 'transports' list")
        known = tuple(cast(TransportName, t) for t in transports if t in TRANSPORT_NAMES)
        return cls(
            session_id=sid,
            token=token,
            transports=known,
            ping_interval=_seconds(body.get("ping_interval_ms"), "ping_interval_ms", optional=True),
            ping_timeout=_seconds(body.get("ping_timeout_ms"), "ping_timeout_ms", optional=True),
            poll_timeout=cast(float, _seconds(body.get("poll_timeout_ms"), "poll_timeout_ms")),
            session_ttl=cast(float, _seconds(body.get("session_ttl_ms"), "session_ttl_ms")),
            max_message_size=_size(body.get("max_message_size"), "max_message_size"),
            max_queue=_size(body.get("max_queue"), "max_queue"),
            max_buffer_bytes=_size(body.get("max_buffer_bytes"), "max_buffer_bytes"),
            max_batch=_size(body.get("max_batch"), "max_batch"),
            max_rate=_rate(body.get("max_rate")),
            max_burst=_size(body.get("max_burst"), "max_burst"),
            ticket=ticket if isinstance(ticket := body.get("ticket"), str) else None,
            version=version,
        )
