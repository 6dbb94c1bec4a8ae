"""The server's settings: one frozen, validated value, handed to every part that needs it.

:class:`~realtime.RealtimeApp` takes them as keyword arguments and builds a :class:`Settings`
once; the engine, the transports, the handler supervisor and the negotiation endpoint read
it, and nothing changes it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from realtime.protocol.connection import ack_batch
from realtime.types import TRANSPORT_NAMES, TransportName

__all__ = ["NEVER_KEPT", "Settings"]

NEVER_KEPT = frozenset({"authorization", "cookie", "proxy-authorization", "x-realtime-token"})
"""Headers a session never keeps, whatever ``keep_headers`` says: credentials, which the
``authenticate`` hook reads at negotiation and which must not outlive the request (with Redis,
they would sit in clear in a session's hash)."""


def _positive(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None:
        if not optional:
            raise ValueError(f"{name} may not be None")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}")


def _count(name: str, value: int | None, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        kind = "a positive int or None" if optional else "a positive int"
        raise ValueError(f"{name} must be {kind}, not {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a server offers and enforces. See :class:`~realtime.RealtimeApp` for each field."""

    transports: tuple[TransportName, ...] = TRANSPORT_NAMES
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    poll_timeout: float = 20.0
    send_timeout: float | None = 10.0
    session_ttl: float = 30.0
    max_message_size: int | None = 2**20
    max_queue: int | None = 1024
    max_buffer_bytes: int | None = 8 * 2**20
    max_client_bytes: int | None = 16 * 2**20
    max_total_bytes: int | None = 2**30
    max_batch: int = 256
    max_rate: float | None = 200.0
    max_burst: int | None = None
    max_frame_rate: float | None = None
    max_client_rate: float | None = None
    max_sessions: int | None = 100_000
    max_sessions_per_client: int | None = 1_000
    read_timeout: float | None = 10.0
    keep_headers: Sequence[str] = ("user-agent", "accept-language")
    """Lower case, as a tuple, once validated."""
    max_stored_bytes: int = 4096

    def __post_init__(self) -> None:
        names = tuple(self.transports)
        unknown = [t for t in names if t not in TRANSPORT_NAMES]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(f"transports must be distinct names among {TRANSPORT_NAMES}")
        object.__setattr__(self, "transports", names)
        _positive("ping_interval", self.ping_interval, optional=True)
        _positive("ping_timeout", self.ping_timeout, optional=True)
        _positive("poll_timeout", self.poll_timeout)
        _positive("send_timeout", self.send_timeout, optional=True)
        _positive("session_ttl", self.session_ttl)
        _positive("max_rate", self.max_rate, optional=True)
        _positive("max_frame_rate", self.max_frame_rate, optional=True)
        _positive("max_client_rate", self.max_client_rate, optional=True)
        _positive("read_timeout", self.read_timeout, optional=True)
        _count("max_message_size", self.max_message_size)
        _count("max_queue", self.max_queue)
        _count("max_buffer_bytes", self.max_buffer_bytes)
        _count("max_client_bytes", self.max_client_bytes)
        _count("max_total_bytes", self.max_total_bytes)
        _count("max_burst", self.max_burst)
        _count("max_sessions", self.max_sessions)
        _count("max_sessions_per_client", self.max_sessions_per_client)
        _count("max_batch", self.max_batch, optional=False)
        _count("max_stored_bytes", self.max_stored_bytes, optional=False)
        if isinstance(self.keep_headers, str):
            raise TypeError("keep_headers is a list of header names, not a string")
        keep = tuple(name.lower() for name in self.keep_headers)
        secret = sorted(NEVER_KEPT.intersection(keep))
        if secret:
            raise ValueError(
                f"keep_headers may not name {', '.join(secret)}: credentials are read by the "
                "authenticate hook at negotiation and never kept with the session"
            )
        object.__setattr__(self, "keep_headers", keep)

    @property
    def burst(self) -> int:
        """Messages a client may send at once above ``max_rate``: ``max_burst``, or as many
        as its window holds."""
        return self.max_burst if self.max_burst is not None else (self.max_queue or 1024)

    @property
    def frame_rate(self) -> float | None:
        """Frames per second a session's client may send: ``max_frame_rate``, or four times
        ``max_rate`` and 100 more (acks and heartbeats); no limit when neither is set."""
        if self.max_frame_rate is not None:
            return self.max_frame_rate
        return None if self.max_rate is None else 4 * self.max_rate + 100

    @property
    def client_rate(self) -> float | None:
        """Messages per second all sessions of one address may send: ``max_client_rate``, or
        ten times ``max_rate``; no limit when neither is set."""
        if self.max_client_rate is not None:
            return self.max_client_rate
        return None if self.max_rate is None else 10 * self.max_rate

    @property
    def ack_batch(self) -> int:
        """Messages the server takes before it acks without delay (the protocol's rule)."""
        return ack_batch(self.max_queue)

    @property
    def max_body_size(self) -> int:
        """Largest upstream POST body: one maximal message in base64 (4/3) plus room for
        small frames."""
        if self.max_message_size is None:
            return 64 * 2**20
        return self.max_message_size * 4 // 3 + 64 * 1024
