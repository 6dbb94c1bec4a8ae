from __future__ import annotations

import pytest

from realtime.exceptions import PayloadTooBig, ProtocolError
from realtime.protocol.frames import (
    CLOSE_CODE_EXPLANATIONS,
    MAX_SEQ,
    Ack,
    Close,
    CloseCode,
    Data,
    Hello,
    Ping,
    Pong,
    Reconnect,
    check_close_code,
    decode_frame,
    encode_binary_data,
    encode_data,
    encode_frame,
    message_size,
    reconnect_policy,
    truncate_reason,
)


@pytest.mark.parametrize(
    ("frame", "text"),
    [
        (Hello(7), 'h{"ack":7}'),
        (Data(12, "hello"), "d12:hello"),
        (Data(1, ""), "d1:"),
        (Data(2, "a:b:c"), "d2:a:b:c"),
        (Data(3, b"\x00\x01\x02"), "b3:AAEC"),
        (Data(4, b""), "b4:"),
        (Ack(12), "a12"),
        (Ping(), "p"),
        (Pong(), "q"),
        (Close(1000, "bye"), "c1000:bye"),
        (Close(4321, ""), "c4321:"),
        (Reconnect(4001, "timeout"), "r4001:timeout"),
    ],
)
def test_text_round_trip(frame: object, text: str) -> None:
    assert encode_frame(frame) == text  # type: ignore[arg-type]
    assert decode_frame(text) == frame


def test_binary_websocket_form_carries_raw_bytes() -> None:
    raw = encode_binary_data(9, b"\xff\x00:")
    assert raw == b"b9:\xff\x00:"
    assert decode_frame(raw) == Data(9, b"\xff\x00:")


def test_encode_data_text_and_base64() -> None:
    assert encode_data(5, "é") == "d5:é"
    assert encode_data(6, b"\xff") == "b6:/w=="


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "d",
        "d12",
        "dx:hi",
        "d-1:hi",
        "d+1:hi",
        "d01:hi",
        "d1_0:hi",
        "d１:hi",  # a non-ASCII digit
        "d99999999999999999:x",  # too many digits
        "a",
        "a1.5",
        "pp",
        "q1",
        "c:bye",
        "c99:bye",
        "c10000:bye",
        "cabcd:x",
        "c1004:reserved",
        "c2000:unassigned",
        "c5000:out of range",
        "h",
        "hnot json",
        "h[1]",
        'h{"ack":-1}',
        'h{"ack":"1"}',
        'h{"ack":true}',
        'h{"nope":1}',
        "z1:unknown kind",
    ],
)
def test_malformed_text_frames_are_protocol_errors(text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame(text)
    assert info.value.code == 1002


def test_sequence_number_bounds() -> None:
    assert decode_frame(f"a{MAX_SEQ}") == Ack(MAX_SEQ)
    with pytest.raises(ProtocolError):
        decode_frame(f"a{MAX_SEQ + 1}")
    assert decode_frame("a0") == Ack(0)


@pytest.mark.parametrize("text", ["b1:not base64!", "b1:AAE", "b1:é"])
def test_bad_base64_is_invalid_data(text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame(text)
    assert info.value.code == 1007


def test_lone_surrogate_is_invalid_data() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame("d1:\ud800")
    assert info.value.code == 1007


@pytest.mark.parametrize(
    "raw",
    [b"", b"d1:text as bytes", b"b1", b"bx:1", b"b\xff:1", b"b-1:x", b"b1" + b"0" * 20 + b":x"],
)
def test_malformed_binary_frames(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame(raw)
    assert info.value.code == 1002


def test_size_limit_counts_utf8_bytes_and_raw_bytes() -> None:
    assert decode_frame("d1:" + "a" * 10, max_size=10) == Data(1, "a" * 10)
    with pytest.raises(PayloadTooBig) as info:
        decode_frame("d1:" + "a" * 11, max_size=10)
    assert info.value.code == 1009
    assert decode_frame("d1:" + "é" * 5, max_size=10) == Data(1, "é" * 5)
    with pytest.raises(PayloadTooBig):
        decode_frame("d1:" + "é" * 6, max_size=10)
    assert decode_frame(b"b1:" + b"x" * 10, max_size=10) == Data(1, b"x" * 10)
    with pytest.raises(PayloadTooBig):
        decode_frame(b"b1:" + b"x" * 11, max_size=10)


def test_size_limit_on_base64_is_checked_before_decoding() -> None:
    ten = encode_data(1, b"x" * 10)
    eleven = encode_data(1, b"x" * 11)
    assert decode_frame(ten, max_size=10) == Data(1, b"x" * 10)
    with pytest.raises(PayloadTooBig):
        decode_frame(eleven, max_size=10)
    with pytest.raises(PayloadTooBig):
        decode_frame(encode_data(1, b"x" * 12), max_size=10)


def test_message_size() -> None:
    assert message_size("abc") == 3
    assert message_size("é") == 2
    assert message_size(b"\x00\x01") == 2
    with pytest.raises(ValueError):
        message_size("\udfff")


def test_close_reason_is_truncated_to_123_bytes_on_a_character_boundary() -> None:
    assert truncate_reason("short") == "short"
    assert truncate_reason("x" * 123) == "x" * 123
    assert truncate_reason("x" * 200) == "x" * 123
    cut = truncate_reason("é" * 100)
    assert cut == "é" * 61
    assert len(cut.encode()) <= 123
    assert decode_frame("c1000:" + "y" * 300) == Close(1000, "y" * 123)
    assert encode_frame(Close(1000, "z" * 300)) == "c1000:" + "z" * 123


def test_check_close_code() -> None:
    for code in (1000, 1001, 1011, 1012, 3000, 4000, 4999, CloseCode.PING_TIMEOUT):
        assert check_close_code(code) == code
    for bad in (999, 1004, 1005, 1006, 1015, 2999, 5000):
        with pytest.raises(ValueError):
            check_close_code(bad)
    for wrong_type in (True, 1000.0, "1000", None):
        with pytest.raises(ValueError):
            check_close_code(wrong_type)  # type: ignore[arg-type]


def test_every_library_code_is_explained_and_sendable() -> None:
    for code in CloseCode:
        assert CLOSE_CODE_EXPLANATIONS[code]
        assert check_close_code(code) == code
    assert all(4000 <= code < 4100 for code in CloseCode if code >= 4000)


@pytest.mark.parametrize(
    ("code", "policy"),
    [
        (1000, "stop"),
        (1002, "stop"),
        (1006, "resume"),
        (1011, "stop"),
        (1012, "resume"),
        (4000, "new"),
        (4001, "resume"),
        (4002, "stop"),
        (4003, "stop"),
        (4004, "new"),
        (4005, "new"),
        (4007, "stop"),
        (4321, "stop"),
    ],
)
def test_reconnect_policy(code: int, policy: str) -> None:
    assert reconnect_policy(code) == policy
