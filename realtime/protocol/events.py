"""Events, calls and replies on the wire: the JSON body of an ``e`` frame.

An event is a data message of its own kind, ``e<seq>:<json>``: it shares the data sequence
numbers (so it has the same exactly-once, in-order delivery, window, acks and resume as a
text or binary message) and can never be confused with a text message whose text looks
like one. Its body is a JSON object, one of::

    {"n": "chat", "d": {"text": "hi"}}             an event: name and data
    {"n": "add", "d": [1, 2], "i": 7}              a call: an event with an id
    {"r": 7, "d": 3}                               the reply to call 7: its result
    {"r": 7, "e": "no such room"}                  or its error

In memory and in backends the body travels as an :class:`Envelope`, a ``str`` marked as an
event so that every layer that moves text moves it unchanged and the frame codec writes it
as ``e`` rather than ``d``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from realtime.exceptions import ProtocolError
from realtime.protocol.codes import CloseCode

__all__ = [
    "Call",
    "Envelope",
    "Reply",
    "check_envelope",
    "encode_call",
    "encode_event",
    "encode_reply",
    "parse_envelope",
]

MAX_CALL_ID = 2**53 - 1


class Envelope(str):
    """The JSON body of an ``e`` frame (an event, a call or a reply)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Call:
    """An event, or a call when ``id`` is set."""

    name: str
    data: object
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to call ``id``: its ``result``, or an ``error`` message."""

    id: int
    result: object = None
    error: str | None = None


def _dump(fields: dict[str, object]) -> Envelope:
    # ensure_ascii=False keeps text as it is; JSON escapes every control character, so the
    # body never holds a line break and SSE carries it as one plain ``data:`` line.
    return Envelope(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))


def encode_event(name: str, data: object) -> Envelope:
    """An event's body. Raises ``TypeError`` (``data`` is not JSON) or ``ValueError``."""
    _check_name(name)
    return _dump({"n": name, "d": data})


def encode_call(name: str, data: object, call_id: int) -> Envelope:
    """A call's body: an event with an id."""
    _check_name(name)
    return _dump({"n": name, "d": data, "i": call_id})


def encode_reply(call_id: int, result: object = None, error: str | None = None) -> Envelope:
    """A reply's body: the result of call ``call_id``, or its error."""
    if error is not None:
        return _dump({"r": call_id, "e": str(error)})
    return _dump({"r": call_id, "d": result})


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"an event name is a non-empty str, not {name!r}")


def _is_id(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_CALL_ID


def parse_envelope(text: str) -> Call | Reply:
    """Decode an ``e`` frame's body. Raises ``ProtocolError`` (code 1007) when it is not one
    of the four shapes of the module docstring."""
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("event body is not JSON", CloseCode.INVALID_DATA) from None
    if isinstance(fields, dict):
        name, call_id = fields.get("n"), fields.get("i")
        if isinstance(name, str) and name and "r" not in fields:
            if call_id is None or _is_id(call_id):
                return Call(name, fields.get("d"), call_id)
        elif "n" not in fields and _is_id(fields.get("r")):
            error = fields.get("e")
            if error is None or isinstance(error, str):
                return Reply(fields["r"], fields.get("d"), error)
    raise ProtocolError("malformed event body", CloseCode.INVALID_DATA)


def check_envelope(text: str) -> Envelope:
    """``text`` as an :class:`Envelope` once it is known well formed (``ProtocolError``)."""
    parse_envelope(text)
    return Envelope(text)
