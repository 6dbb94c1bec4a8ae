"""Frames: the envelope every transport carries, their codec, and the close codes.

A frame is a short string whose first character names its kind::

    h{"ack":7}      hello     first frame of every connection (server to client)
    d12:hello       data      text message number 12
    e14:{"n":"x"}   data      an event, call or reply, message number 14 (protocol/events.py)
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

from realtime.exceptions import PayloadTooBig, ProtocolError
from realtime.protocol.codes import (
    CLOSE_CODE_EXPLANATIONS,
    RECONNECT_POLICY,
    CloseCode,
    ReconnectPolicy,
    reconnect_policy,
)
from realtime.protocol.events import Envelope, check_envelope

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
    "check_message",
    "decode_frame",
    "decode_last",
    "encode_ack",
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
    """First frame of every connection. ``ack`` is the last client message the server holds;
    ``token``, when set, is the session's token from the next connection on (rotation)."""

    ack: int
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Data:
    """One application message, numbered from 1 in each direction: text, bytes, or an
    event (an :class:`~realtime.protocol.events.Envelope`, which is text of its own kind)."""

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
    """Encode a data frame in text form (binary data in base64, an event as ``e``)."""
    if type(data) is str:  # raw text first: it costs what it cost before events
        return f"d{seq}:{data}"
    if isinstance(data, str):  # an event, or text of a subclass of str
        return f"{'e' if type(data) is Envelope else 'd'}{seq}:{data}"
    return f"b{seq}:{base64.b64encode(data).decode('ascii')}"


def encode_binary_data(seq: int, data: bytes) -> bytes:
    """Encode a binary data frame as a raw binary WebSocket message: ``b<seq>:`` + bytes."""
    return b"b%d:%b" % (seq, data)


def encode_ack(seq: int) -> str:
    """Encode the ack of every message up to ``seq``."""
    return f"a{seq}"


def encode_frame(frame: Frame) -> str:
    """Encode any frame in text form."""
    if isinstance(frame, Data):
        return encode_data(frame.seq, frame.data)
    if isinstance(frame, Ack):
        return encode_ack(frame.seq)
    if isinstance(frame, Ping):
        return "p"
    if isinstance(frame, Pong):
        return "q"
    if isinstance(frame, Close):
        return f"c{frame.code}:{truncate_reason(frame.reason)}"
    if isinstance(frame, Reconnect):
        return f"r{frame.code}:{truncate_reason(frame.reason)}"
    fields: dict[str, object] = {"ack": frame.ack}
    if frame.token is not None:
        fields["token"] = frame.token
    return "h" + json.dumps(fields, separators=(",", ":"))


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


def check_message(data: object, max_size: int | None) -> int:
    """Return the size of a message about to be sent; raise ``TypeError`` (neither str nor
    bytes, or text with a lone surrogate) or ``PayloadTooBig`` (over ``max_size``)."""
    if not isinstance(data, (str, bytes)):
        raise TypeError(f"a message is str or bytes, not {type(data).__name__}")
    try:
        size = message_size(data)
    except ValueError as exc:
        raise TypeError(str(exc)) from None
    if max_size is not None and size > max_size:
        raise PayloadTooBig(f"message of {size} bytes exceeds max_message_size={max_size}")
    return size


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
        raise ProtocolError(str(exc), CloseCode.INVALID_DATA) from None
    _check_size(size, max_size)
    return Data(seq, body)


def _decode_event(raw: str, max_size: int | None) -> Data:
    data = _decode_text_data(raw, max_size)
    return Data(data.seq, check_envelope(str(data.data)))


def _decode_base64_data(raw: str, max_size: int | None) -> Data:
    seq, body = _split_header(raw)
    if max_size is not None:
        _check_size(len(body) // 4 * 3 - body.endswith("=") - body.endswith("=="), max_size)
    try:
        payload = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProtocolError("invalid base64 in binary frame", CloseCode.INVALID_DATA) from None
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
    assert isinstance(fields, dict)
    token = fields.get("token")
    if token is not None and not (isinstance(token, str) and 0 < len(token) <= 256):
        raise ProtocolError("hello frame with an invalid 'token'")
    return Hello(ack, token)


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
    if kind == "e":
        return _decode_event(raw, max_size)
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


def decode_last(value: str | None) -> int:
    """Parse the ``last`` a client resumes after (the last message it received); absent or
    empty means 0. Raises ``ProtocolError``."""
    if value is None or value == "":
        return 0
    if len(value) > _MAX_SEQ_DIGITS or not (value.isascii() and value.isdigit()):
        raise ProtocolError(f"bad 'last' value {value[:20]!r}")
    last = int(value)
    if last > MAX_SEQ:
        raise ProtocolError(f"bad 'last' value {value[:20]!r}")
    return last
