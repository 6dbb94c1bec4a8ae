"""Server-Sent Events: the encoder the SSE transport writes, and the parser clients read with.

Each frame is one event whose ``data`` is the frame's text; data frames carry their sequence
number in the ``id`` field as well, so a native ``EventSource`` resumes with ``Last-Event-ID``.
A frame containing a carriage return would be mangled by SSE line splitting, so such a frame
is sent JSON-encoded as a string instead: its data starts with ``"``, which no plain frame does.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from realtime.protocol.frames import encode_data

__all__ = [
    "STOP_ID_PREFIX",
    "PRELUDE_PADDING",
    "SSEEvent",
    "SSEParser",
    "encode_comment",
    "encode_data_event",
    "encode_event",
    "encode_retry",
    "stop_id",
    "frame_from_event_data",
]

PRELUDE_PADDING = 2048
"""Bytes of comment sent first, so proxies and old browsers that wait for a first chunk of some
size before passing anything on (IE/old Edge needed 2 KiB) flush the stream at once."""


def encode_event(frame: str, event_id: int | str | None = None) -> bytes:
    """Encode one frame as an SSE event."""
    if "\r" in frame or frame.startswith('"'):
        frame = json.dumps(frame, ensure_ascii=False)
    head = f"id: {event_id}\n" if event_id is not None else ""
    if "\n" in frame:
        body = "".join(f"data: {line}\n" for line in frame.split("\n"))
    else:
        body = f"data: {frame}\n"
    return f"{head}{body}\n".encode()


STOP_ID_PREFIX = "c"
"""The ``id`` of the last event of a stream whose EventSource must not come back (the session
ended, or another connection took it over) starts with this, then the last message number:
the browser's reconnection then carries ``Last-Event-ID: c<n>`` and gets ``204 No Content``,
which makes it stop. A data event's id is a plain number."""


def stop_id(last: int) -> str:
    """The event id that tells a reconnecting EventSource to stop."""
    return f"{STOP_ID_PREFIX}{last}"


def encode_data_event(seq: int, data: str | bytes) -> bytes:
    """Encode data frame ``seq`` as an event whose id is ``seq`` (what :func:`encode_event`
    makes of it, with a shortcut for the common one-line text message)."""
    if isinstance(data, str) and "\n" not in data and "\r" not in data:
        return f"id: {seq}\ndata: {encode_data(seq, data)}\n\n".encode()
    return encode_event(encode_data(seq, data), seq)


def encode_comment(text: str = "") -> bytes:
    """An SSE comment line, ignored by clients (used for the padding prelude)."""
    return f":{text}\n\n".encode()


def encode_retry(milliseconds: int) -> bytes:
    """The ``retry`` field: how long a native EventSource waits before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n".encode()


def frame_from_event_data(data: str) -> str:
    """Undo the JSON escape of :func:`encode_event`; ``ValueError`` if the escape is broken."""
    if data.startswith('"'):
        return cast(str, json.loads(data))  # JSON text starting with " is a string or invalid
    return data


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEParser:
    """Incremental parser of a ``text/event-stream`` (the WHATWG algorithm).

    Feed it bytes as they arrive; it yields complete events. ``last_event_id`` follows the
    spec: it persists across events until an ``id`` field changes it.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._first = True
        self.last_event_id: str | None = None
        self.retry: int | None = None
        """The last reconnection delay (ms) the server set with a ``retry`` field."""

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        text = self._decoder.decode(chunk)
        if self._first and text:
            self._first = False
            text = text.removeprefix("\ufeff")
        self._buffer += text
        while True:
            line, found = self._next_line()
            if not found:
                return
            event = self._process(line)
            if event is not None:
                yield event

    def _next_line(self) -> tuple[str, bool]:
        buffer = self._buffer
        cr, lf = buffer.find("\r"), buffer.find("\n")
        if cr < 0 and lf < 0:
            return "", False
        if cr >= 0 and (lf < 0 or cr < lf):
            if cr == len(buffer) - 1:
                return "", False  # wait: this \r may start a \r\n
            end = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            line = buffer[:cr]
        else:
            end = lf + 1
            line = buffer[:lf]
        self._buffer = buffer[end:]
        return line, True

    def _process(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SSEEvent("\n".join(data), event or "message", self.last_event_id)
