"""Frames: the envelope every transport carries, their codec, and the close codes.

A frame is a short string whose first character names its kind::

    h{"ack":7}      hello     first frame of every connection (server to client)
    d12:hello       data      text message number 12
    b13:AAEC        data      binary message number 13, base64 (raw bytes on WebSocket)
    a12             ack       "I have every message up to and including 12"
    p               ping      the peer answers with any frame, a pong if it has nothing else
    q               pong
    c1000:bye       close     the session is over (code, reason)
    r4001:timeout   reconnect this connection is over; reconnect and resume the session

On WebSocket a binary message is sent as a binary WebSocket message made of the ASCII
header ``b<seq>:`` followed by the raw bytes, so no base64 is paid there.

The codec is strict: anything malformed raises :class:`~realtime.exceptions.ProtocolError`
(or :class:`~realtime.exceptions.PayloadTooBig`) carrying the close code that answers it.
The session layer turns those into a close; they never escape to the application.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from realtime.exceptions import PayloadTooBig, ProtocolError

__all__ = [
    "CLOSE_CODE_EXPLANATIONS",
    "MAX_REASON_BYTES",
    "MAX_SEQ",
    "PROTOCOL_VERSION",
    "RECONNECT_POLICY",
    "Ack",
    "Close",
    "CloseCode",
    "Data",
    "Frame",
    "Hello",
    "Ping",
    "Pong",
    "Reconnect",
    "ReconnectPolicy",
    "check_close_code",
    "decode_frame",
    "encode_binary_data",
    "encode_data",
    "encode_frame",
    "message_size",
    "reconnect_policy",
    "truncate_reason",
]

PROTOCOL_VERSION = 1

MAX_SEQ = 2**53 - 1
"""Largest sequence number: the largest integer a JavaScript number holds exactly."""

MAX_REASON_BYTES = 123
"""A close reason is cut to 123 UTF-8 bytes, the most a WebSocket close frame can carry."""

_MAX_SEQ_DIGITS = len(str(MAX_SEQ))


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
    1006: "resume",  # no close frame: the connection dropped
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


_SENDABLE_RFC_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013})


def check_close_code(code: int) -> int:
    """Return ``code`` if a close frame may carry it, else raise ``ValueError``."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise ValueError(f"close code must be an int, not {type(code).__name__}")
    if code in _SENDABLE_RFC_CODES or 3000 <= code <= 4999:
        return int(code)
    raise ValueError(f"invalid close code {code!r}: use 1000-1013 or 3000-4999")


def truncate_reason(reason: str) -> str:
    """Cut ``reason`` to at most 123 UTF-8 bytes without splitting a character."""
    if len(reason) <= MAX_REASON_BYTES // 4:
        return reason
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[:MAX_REASON_BYTES].decode("utf-8", "ignore")


# -- Frames -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of every connection. ``ack`` is the last client message the server holds."""

    ack: int


@dataclass(frozen=True, slots=True)
class Data:
    """One application message, numbered from 1 in each direction."""

    seq: int
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ack:
    """Cumulative acknowledgement: every message up to ``seq`` was received."""

    seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    """Asks the peer to show it is alive."""


@dataclass(frozen=True, slots=True)
class Pong:
    """Answers a ping."""


@dataclass(frozen=True, slots=True)
class Close:
    """The session is over."""

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """This connection is over; the session lives on and the client should resume it."""

    code: int
    reason: str = ""


Frame = Hello | Data | Ack | Ping | Pong | Close | Reconnect

_PING = Ping()
_PONG = Pong()


# -- Encoding -----------------------------------------------------------------------------


def encode_data(seq: int, data: str | bytes) -> str:
    """Encode a data frame in text form (binary data in base64)."""
    if isinstance(data, str):
        return f"d{seq}:{data}"
    return f"b{seq}:{base64.b64encode(data).decode('ascii')}"


def encode_binary_data(seq: int, data: bytes) -> bytes:
    """Encode a binary data frame as a raw binary WebSocket message: ``b<seq>:`` + bytes."""
    return b"b%d:%b" % (seq, data)


def encode_frame(frame: Frame) -> str:
    """Encode any frame in text form."""
    if isinstance(frame, Data):
        return encode_data(frame.seq, frame.data)
    if isinstance(frame, Ack):
        return f"a{frame.seq}"
    if isinstance(frame, Ping):
        return "p"
    if isinstance(frame, Pong):
        return "q"
    if isinstance(frame, Close):
        return f"c{frame.code}:{truncate_reason(frame.reason)}"
    if isinstance(frame, Reconnect):
        return f"r{frame.code}:{truncate_reason(frame.reason)}"
    return "h" + json.dumps({"ack": frame.ack}, separators=(",", ":"))


# -- Decoding -----------------------------------------------------------------------------


def message_size(data: str | bytes) -> int:
    """Size of a message in bytes (UTF-8 for text); ``ValueError`` on lone surrogates."""
    if isinstance(data, bytes):
        return len(data)
    if data.isascii():  # O(1) in CPython
        return len(data)
    try:
        return len(data.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (lone surrogate)") from exc


def _parse_seq(text: str) -> int:
    if not text or len(text) > _MAX_SEQ_DIGITS or not (text.isascii() and text.isdigit()):
        raise ProtocolError(f"bad sequence number {text[:20]!r}")
    if len(text) > 1 and text[0] == "0":
        raise ProtocolError(f"bad sequence number {text[:20]!r}")
    value = int(text)
    if value > MAX_SEQ:
        raise ProtocolError(f"sequence number {value} out of range")
    return value


def _split_header(raw: str) -> tuple[int, str]:
    colon = raw.find(":", 1, _MAX_SEQ_DIGITS + 2)
    if colon < 0:
        raise ProtocolError("data frame without ':'")
    return _parse_seq(raw[1:colon]), raw[colon + 1 :]


def _check_size(size: int, max_size: int | None) -> None:
    if max_size is not None and size > max_size:
        raise PayloadTooBig(f"message of {size} bytes exceeds the limit of {max_size}")


def _decode_text_data(raw: str, max_size: int | None) -> Data:
    seq, body = _split_header(raw)
    try:
        size = message_size(body)
    except ValueError as exc:
        raise ProtocolError(str(exc), 1007) from None
    _check_size(size, max_size)
    return Data(seq, body)


def _decode_base64_data(raw: str, max_size: int | None) -> Data:
    seq, body = _split_header(raw)
    if max_size is not None:
        _check_size(len(body) // 4 * 3 - body.endswith("=") - body.endswith("=="), max_size)
    try:
        payload = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProtocolError("invalid base64 in binary frame", 1007) from None
    return Data(seq, payload)


def _decode_close(raw: str) -> tuple[int, str]:
    code_text, _, reason = raw[1:].partition(":")
    if not (code_text.isascii() and code_text.isdigit()) or len(code_text) != 4:
        raise ProtocolError(f"bad close code {code_text[:20]!r}")
    try:
        code = check_close_code(int(code_text))
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
    return code, truncate_reason(reason)


def _decode_hello(raw: str) -> Hello:
    try:
        fields = json.loads(raw[1:])
    except (ValueError, RecursionError):
        raise ProtocolError("hello frame is not JSON") from None
    ack = fields.get("ack") if isinstance(fields, dict) else None
    if type(ack) is not int or not 0 <= ack <= MAX_SEQ:
        raise ProtocolError("hello frame without a valid 'ack'")
    return Hello(ack)


def decode_frame(raw: str | bytes, *, max_size: int | None = None) -> Frame:
    """Decode one frame; ``max_size`` bounds a data frame's payload in bytes.

    Raises:
        ProtocolError: malformed frame (code 1002) or invalid payload (code 1007).
        PayloadTooBig: the payload exceeds ``max_size`` (code 1009).
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return _decode_binary(bytes(raw), max_size)
    kind = raw[:1]
    if kind == "d":
        return _decode_text_data(raw, max_size)
    if kind == "a":
        return Ack(_parse_seq(raw[1:]))
    if kind == "b":
        return _decode_base64_data(raw, max_size)
    if raw == "p":
        return _PING
    if raw == "q":
        return _PONG
    if kind == "c":
        return Close(*_decode_close(raw))
    if kind == "r":
        return Reconnect(*_decode_close(raw))
    if kind == "h":
        return _decode_hello(raw)
    raise ProtocolError(f"unknown frame {raw[:20]!r}")


def _decode_binary(raw: bytes, max_size: int | None) -> Data:
    colon = raw.find(b":", 1, _MAX_SEQ_DIGITS + 2)
    if raw[:1] != b"b" or colon < 0:
        raise ProtocolError("binary message is not a 'b<seq>:' data frame")
    try:
        seq = _parse_seq(raw[1:colon].decode("ascii"))
    except UnicodeDecodeError:
        raise ProtocolError("bad sequence number in binary frame") from None
    _check_size(len(raw) - colon - 1, max_size)
    return Data(seq, raw[colon + 1 :])
