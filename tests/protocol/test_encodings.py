from __future__ import annotations

import json

import pytest

from realtime.exceptions import ProtocolError
from realtime.protocol.batch import decode_batch, encode_batch
from realtime.protocol.negotiate import Negotiated
from realtime.protocol.sse import (
    SSEEvent,
    SSEParser,
    encode_comment,
    encode_event,
    encode_retry,
    frame_from_event_data,
)


def parse(stream: bytes, chunk: int = 1) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(stream), chunk):
        events.extend(parser.feed(stream[i : i + chunk]))
    return events


@pytest.mark.parametrize("chunk", [1, 2, 7, 1000])
@pytest.mark.parametrize(
    "frame", ["d1:plain", "d2:two\nlines", "d3:a\rb", "d4:crlf\r\n", "d5:", "d6:\n\n", "d7:é ✓"]
)
def test_any_frame_survives_sse_encoding_and_parsing(frame: str, chunk: int) -> None:
    stream = encode_comment(" " * 10) + encode_retry(1000) + encode_event(frame, 42)
    events = parse(stream, chunk)
    assert len(events) == 1
    assert events[0].id == "42"
    assert frame_from_event_data(events[0].data) == frame


def test_frames_with_carriage_returns_are_json_escaped() -> None:
    assert encode_event("d1:a\rb") == b'data: "d1:a\\rb"\n\n'
    assert frame_from_event_data('"d1:a\\rb"') == "d1:a\rb"
    with pytest.raises(ValueError):
        frame_from_event_data('"unterminated')
    with pytest.raises(ValueError):
        frame_from_event_data('"x" trailing')


def test_escape_must_decode_to_a_string() -> None:
    assert frame_from_event_data("d1:x") == "d1:x"
    with pytest.raises(ValueError):
        frame_from_event_data('"')


def test_parser_follows_the_spec() -> None:
    stream = (
        b"\xef\xbb\xbf: comment\r\n"
        b"event: custom\r\n"
        b"data:no space\r\n"
        b"data:  two spaces\r\n"
        b"id: 7\r\n"
        b"retry: 250\r\n"
        b"unknown: field\r\n"
        b"data\r\n"
        b"\r\n"
        b"id\n"
        b"data: after empty id\n\n"
        b"id: bad\x00id\n"
        b"data: x\n\n"
        b"retry: soon\n"
        b"\n"
        b"data: incomplete"
    )
    events = parse(stream, 3)
    assert events == [
        SSEEvent("no space\n two spaces\n", "custom", "7"),
        SSEEvent("after empty id", "message", ""),
        SSEEvent("x", "message", ""),
    ]


def test_parser_exposes_retry_and_last_event_id() -> None:
    parser = SSEParser()
    assert list(parser.feed(b"retry: 1500\n\n")) == []
    assert parser.retry == 1500
    list(parser.feed(b"id: 3\ndata: d3:x\n\n"))
    assert parser.last_event_id == "3"


def test_parser_handles_cr_at_chunk_end() -> None:
    parser = SSEParser()
    assert list(parser.feed(b"data: a\r")) == []
    assert list(parser.feed(b"\n\r\n")) == [SSEEvent("a")]


def test_parser_replaces_invalid_utf8() -> None:
    assert parse(b"data: \xff\n\n", 100) == [SSEEvent("\ufffd")]


def test_batch_round_trip() -> None:
    frames = ["d1:hi", 'd2:\u2603\n"quoted"', "b3:AAE=", "a4", "q"]
    assert decode_batch(encode_batch(frames)) == frames
    assert decode_batch(b"  []") == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", 1002),
        (b"{}", 1002),
        (b'"d1:x"', 1002),
        (b"[1, 2]", 1002),
        (b'["ok", null]', 1002),
        (b"[", 1002),
        (b'["\xff"]', 1007),
        (b"[" * 100_000 + b"]" * 100_000, 1002),
        (json.dumps(["q"] * 11).encode(), 1008),
    ],
)
def test_bad_batches(body: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_batch(body, max_frames=10)
    assert info.value.code == code


def negotiated() -> Negotiated:
    return Negotiated(
        session_id="sid",
        token="tok",
        transports=("websocket", "longpoll"),
        ping_interval=20.0,
        ping_timeout=None,
        poll_timeout=25.5,
        session_ttl=30.0,
        max_message_size=1024,
        max_queue=None,
        max_buffer_bytes=2048,
        max_batch=16,
    )


def test_negotiation_round_trip() -> None:
    answer = negotiated()
    body = answer.to_json()
    assert body["ping_interval_ms"] == 20000
    assert body["ping_timeout_ms"] is None
    assert body["poll_timeout_ms"] == 25500
    assert Negotiated.from_json(json.loads(json.dumps(body))) == answer


def test_negotiation_ignores_unknown_transports_and_fields() -> None:
    body = {**negotiated().to_json(), "transports": ["carrier-pigeon", "longpoll"], "extra": 1}
    assert Negotiated.from_json(body).transports == ("longpoll",)


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": None},
        {"sid": ""},
        {"token": 5},
        {"transports": "websocket"},
        {"ping_interval_ms": -1},
        {"ping_interval_ms": True},
        {"poll_timeout_ms": None},
        {"session_ttl_ms": 1.5},
        {"max_queue": 0},
        {"max_batch": "10"},
    ],
)
def test_bad_negotiation_answers(change: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        Negotiated.from_json({**negotiated().to_json(), **change})


def test_negotiation_answer_must_be_an_object() -> None:
    with pytest.raises(ProtocolError):
        Negotiated.from_json([1])
