"""Property-based fuzzing of every decoder in the core: bad input raises ProtocolError (with a
close code) or nothing at all, and whatever is encoded decodes to itself."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.exceptions import ProtocolError
from realtime.protocol.batch import decode_batch, encode_batch
from realtime.protocol.buffer import ReplayBuffer
from realtime.protocol.codes import CloseCode
from realtime.protocol.connection import ConnectionProtocol, Violation
from realtime.protocol.frames import (
    MAX_SEQ,
    PROTOCOL_VERSION,
    Data,
    decode_frame,
    encode_binary_data,
    encode_frame,
)
from realtime.protocol.negotiate import Negotiated, decode_request, encode_request
from realtime.protocol.sse import SSEEvent, SSEParser, encode_event, frame_from_event_data
from realtime.types import TRANSPORT_NAMES, TransportName

seqs = st.integers(min_value=0, max_value=MAX_SEQ)
texts = st.text()  # includes lone surrogates, control characters, \r, \n, NUL
valid_texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
ALLOWED_CODES = {1002, 1007, 1008, 1009}


@given(texts, st.none() | st.integers(min_value=0, max_value=100))
def test_decode_text_frame_never_raises_anything_else(raw: str, max_size: int | None) -> None:
    try:
        decode_frame(raw, max_size=max_size)
    except ProtocolError as exc:
        assert exc.code in ALLOWED_CODES


@given(st.binary(), st.none() | st.integers(min_value=0, max_value=100))
def test_decode_binary_frame_never_raises_anything_else(raw: bytes, max_size: int | None) -> None:
    try:
        decode_frame(raw, max_size=max_size)
    except ProtocolError as exc:
        assert exc.code in ALLOWED_CODES


@given(seqs, valid_texts | st.binary())
def test_data_frames_round_trip(seq: int, data: str | bytes) -> None:
    assert decode_frame(encode_frame(Data(seq, data))) == Data(seq, data)
    if isinstance(data, bytes):
        assert decode_frame(encode_binary_data(seq, data)) == Data(seq, data)


@given(texts)
def test_connection_protocol_turns_any_input_into_a_frame_or_a_violation(raw: str) -> None:
    proto = ConnectionProtocol(is_server=True, now=0.0, max_message_size=64)
    result = proto.receive(raw, 1.0)
    assert isinstance(result, Violation) or encode_frame(result)


@settings(max_examples=300)
@given(st.lists(valid_texts, max_size=5), st.integers(min_value=1, max_value=64))
def test_sse_round_trip_through_any_chunking(frames: list[str], chunk: int) -> None:
    stream = b"".join(encode_event(frame, i) for i, frame in enumerate(frames))
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(stream), chunk):
        events.extend(parser.feed(stream[i : i + chunk]))
    assert [frame_from_event_data(event.data) for event in events] == frames


@given(st.binary())
def test_sse_parser_never_raises(stream: bytes) -> None:
    list(SSEParser().feed(stream))


@given(st.binary())
def test_decode_batch_never_raises_anything_else(body: bytes) -> None:
    try:
        decode_batch(body, max_frames=10)
    except ProtocolError as exc:
        assert exc.code in ALLOWED_CODES


@given(json_values)
def test_decode_batch_of_any_json(value: object) -> None:
    try:
        frames = decode_batch(json.dumps(value).encode(), max_frames=10)
    except ProtocolError as exc:
        assert exc.code in ALLOWED_CODES
    else:
        assert isinstance(value, list) and frames == value


@given(st.lists(valid_texts, max_size=20))
def test_batches_round_trip(frames: list[str]) -> None:
    assert decode_batch(encode_batch(frames)) == frames


durations = st.integers(min_value=0, max_value=10**9)
sizes = st.none() | st.integers(min_value=1, max_value=2**53)
answers = st.fixed_dictionaries(
    {
        "v": st.just(PROTOCOL_VERSION),
        "sid": st.text(min_size=1),
        "token": st.text(min_size=1),
        "transports": st.lists(st.sampled_from(TRANSPORT_NAMES), unique=True),
        "ping_interval_ms": st.none() | durations,
        "ping_timeout_ms": st.none() | durations,
        "poll_timeout_ms": durations,
        "session_ttl_ms": durations,
        "max_message_size": sizes,
        "max_queue": sizes,
        "max_buffer_bytes": sizes,
        "max_batch": sizes,
        "max_rate": st.none() | st.integers(1, 10**6) | st.floats(0.001, 1e6),
        "max_burst": sizes,
        "ticket": st.none() | st.text(min_size=1),
    }
)


@given(answers)
def test_a_well_formed_negotiation_answer_parses_to_what_it_says(answer: dict[str, object]) -> None:
    negotiated = Negotiated.from_json(answer)
    assert negotiated.to_json() == answer
    assert Negotiated.from_json(negotiated.to_json()) == negotiated


@given(
    answers, st.sampled_from(["v", "sid", "token", "transports", "poll_timeout_ms"]), json_values
)
def test_a_negotiation_answer_with_a_bad_field_is_refused(
    answer: dict[str, object], field: str, value: object
) -> None:
    broken = {**answer, field: value}
    try:
        negotiated = Negotiated.from_json(broken)
    except ProtocolError as exc:
        assert exc.code == CloseCode.PROTOCOL_ERROR
        return
    # Only a value as good as a valid one passes, and the answer is read as it says.
    assert broken["v"] == PROTOCOL_VERSION
    assert (negotiated.session_id, negotiated.token) == (broken["sid"], broken["token"])
    assert isinstance(negotiated.session_id, str) and negotiated.session_id
    assert isinstance(broken["transports"], list)
    assert list(negotiated.transports) == [t for t in broken["transports"] if t in TRANSPORT_NAMES]
    poll_ms = broken["poll_timeout_ms"]
    assert isinstance(poll_ms, int) and not isinstance(poll_ms, bool) and poll_ms >= 0
    assert negotiated.poll_timeout == poll_ms / 1000


@given(json_values)
def test_the_negotiation_answer_parser_refuses_anything_else_with_1002(value: object) -> None:
    try:
        negotiated = Negotiated.from_json(value)
    except ProtocolError as exc:
        assert exc.code == CloseCode.PROTOCOL_ERROR
    else:
        assert isinstance(value, dict) and value["v"] == PROTOCOL_VERSION
        assert (negotiated.session_id, negotiated.token) == (value["sid"], value["token"])


def expected_request(value: object) -> frozenset[str] | None | type[ProtocolError]:
    """What PROTOCOL.md says a negotiation request body asks for."""
    if not isinstance(value, dict) or value.get("v", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        return ProtocolError
    transports = value.get("transports")
    if transports is None:
        return None
    if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
        return ProtocolError
    return frozenset(transports)


@given(json_values | st.dictionaries(st.sampled_from(["v", "transports"]), json_values))
def test_the_negotiation_request_parser_follows_the_document(value: object) -> None:
    expected = expected_request(value)
    try:
        wanted = decode_request(json.dumps(value).encode())
    except ProtocolError as exc:
        assert exc.code == CloseCode.PROTOCOL_ERROR
        assert expected is ProtocolError
    else:
        assert wanted == expected


def test_an_empty_negotiation_request_asks_for_any_transport() -> None:
    assert decode_request(b"") is None
    assert decode_request(b"  \n") is None


@given(st.lists(st.sampled_from(TRANSPORT_NAMES)))
def test_negotiation_requests_round_trip(transports: list[TransportName]) -> None:
    body = json.dumps(encode_request(transports)).encode()
    assert decode_request(body) == frozenset(transports)


@given(
    st.lists(st.tuples(st.sampled_from(["push", "ack", "after"]), st.integers(0, 40)), max_size=60)
)
def test_replay_buffer_invariants(operations: list[tuple[str, int]]) -> None:
    buffer = ReplayBuffer(max_count=8)
    for operation, number in operations:
        try:
            if operation == "push":
                buffer.append(f"m{buffer.last_seq + 1}", 2)
            elif operation == "ack":
                buffer.ack(number)
            else:
                batch = buffer.after(number)
                assert [seq for seq, _ in batch] == list(range(number + 1, buffer.last_seq + 1))
                assert all(data == f"m{seq}" for seq, data in batch)
        except Exception as exc:  # only the documented refusals
            assert type(exc).__name__ in {"BufferFull", "ReplayGap", "ProtocolError"}
        assert len(buffer) == buffer.last_seq - buffer.acked <= 8
        assert buffer.size == 2 * len(buffer)
