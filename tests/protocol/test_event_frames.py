"""The ``e`` frame: events, calls and replies as data messages of their own kind."""

from __future__ import annotations

import pytest

from realtime.backends.redis.codec import decode, encode
from realtime.exceptions import ProtocolError
from realtime.protocol.events import (
    Call,
    Envelope,
    Reply,
    encode_call,
    encode_event,
    encode_reply,
    parse_envelope,
)
from realtime.protocol.frames import Data, decode_frame, encode_data
from realtime.protocol.sse import encode_data_event


def test_an_event_encodes_as_an_e_frame_and_decodes_back_as_an_envelope() -> None:
    envelope = encode_event("chat", {"text": "héllo\r\n"})
    assert envelope == '{"n":"chat","d":{"text":"héllo\\r\\n"}}'
    frame = encode_data(7, envelope)
    assert frame == 'e7:{"n":"chat","d":{"text":"héllo\\r\\n"}}'
    decoded = decode_frame(frame)
    assert decoded == Data(7, envelope) and type(decoded.data) is Envelope


def test_text_that_looks_like_an_event_stays_text() -> None:
    text = '{"n":"chat","d":1}'
    assert encode_data(3, text) == f"d3:{text}"
    decoded = decode_frame(f"d3:{text}")
    assert type(decoded.data) is str  # type: ignore[union-attr]


def test_an_event_goes_as_one_plain_sse_line() -> None:
    assert (
        encode_data_event(2, encode_event("x", "a\nb"))
        == b'id: 2\ndata: e2:{"n":"x","d":"a\\nb"}\n\n'
    )


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        ('{"n":"a"}', Call("a", None)),
        ('{"n":"a","d":[1],"i":5}', Call("a", [1], 5)),
        ('{"r":5,"d":2}', Reply(5, 2)),
        ('{"r":5,"e":"no"}', Reply(5, None, "no")),
    ],
)
def test_the_four_shapes_of_an_event_body(body: str, parsed: Call | Reply) -> None:
    assert parse_envelope(body) == parsed


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        "not json",
        '{"d":1}',
        '{"n":""}',
        '{"n":1}',
        '{"n":"a","i":-1}',
        '{"n":"a","i":1.5}',
        '{"n":"a","r":1}',
        '{"r":"1"}',
        '{"r":1,"e":3}',
        '"string"',
    ],
)
def test_a_malformed_event_body_is_invalid_data(body: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode_frame(f"e1:{body}")
    assert refused.value.code == 1007


def test_calls_and_replies_round_trip() -> None:
    assert parse_envelope(encode_call("add", [1, 2], 9)) == Call("add", [1, 2], 9)
    assert parse_envelope(encode_reply(9, 3)) == Reply(9, 3)
    assert parse_envelope(encode_reply(9, error="bad")) == Reply(9, None, "bad")


def test_non_json_event_data_and_bad_names_are_refused_when_sent() -> None:
    with pytest.raises(TypeError):
        encode_event("x", object())
    with pytest.raises(ValueError):
        encode_event("", 1)


@pytest.mark.parametrize("payload", ["text", b"bytes", Envelope('{"n":"x"}')])
def test_the_redis_codec_keeps_each_kind(payload: str | bytes) -> None:
    kind, stored = encode(payload)
    back = decode(kind, stored)
    assert back == payload and type(back) is type(payload)
