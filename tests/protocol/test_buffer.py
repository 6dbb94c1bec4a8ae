from __future__ import annotations

import sys

import pytest

from realtime.exceptions import BufferFull, ProtocolError, ReplayGap
from realtime.protocol.buffer import Receiver, ReplayBuffer


def filled(count: int, max_count: int | None = None) -> ReplayBuffer:
    buffer = ReplayBuffer(max_count=max_count)
    for i in range(1, count + 1):
        assert buffer.append(f"m{i}", 2) == i
    return buffer


def test_numbers_from_one_and_replays_after_a_given_number() -> None:
    buffer = filled(5)
    assert buffer.last_seq == 5
    assert buffer.after(0) == [(1, "m1"), (2, "m2"), (3, "m3"), (4, "m4"), (5, "m5")]
    assert buffer.after(3) == [(4, "m4"), (5, "m5")]
    assert buffer.after(5) == []
    assert list(buffer) == buffer.after(0)


def test_cumulative_ack_drops_and_frees_bytes() -> None:
    buffer = filled(5)
    assert buffer.size == 10
    assert buffer.ack(3) == 3
    assert len(buffer) == 2
    assert buffer.size == 4
    assert buffer.acked == 3
    assert buffer.after(3) == [(4, "m4"), (5, "m5")]
    assert buffer.ack(2) == 0  # stale: ignored
    assert buffer.ack(3) == 0
    assert buffer.acked == 3


def test_ack_of_a_message_never_sent_is_a_protocol_error() -> None:
    buffer = filled(2)
    with pytest.raises(ProtocolError):
        buffer.ack(3)


def test_replay_before_the_ack_is_a_gap() -> None:
    buffer = filled(5)
    buffer.ack(3)
    with pytest.raises(ReplayGap) as info:
        buffer.after(2)
    assert (info.value.requested, info.value.first_available) == (2, 4)


def test_replay_beyond_the_last_message_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        filled(2).after(3)


def test_count_bound() -> None:
    buffer = filled(3, max_count=3)
    assert not buffer.has_room(1)
    with pytest.raises(BufferFull):
        buffer.append("x", 1)
    buffer.ack(1)
    assert buffer.has_room(1)
    assert buffer.append("m4", 2) == 4


def test_byte_bound_but_one_message_always_fits() -> None:
    buffer = ReplayBuffer(max_bytes=10)
    assert buffer.append("big", 50) == 1  # empty: accepted whatever its size
    assert not buffer.has_room(1)
    buffer.ack(1)
    buffer.append("a", 6)
    assert buffer.has_room(4)
    assert not buffer.has_room(5)


def test_batches_are_bounded_by_count_and_bytes_but_never_empty() -> None:
    buffer = filled(10)
    assert [seq for seq, _ in buffer.after(0, max_count=3)] == [1, 2, 3]
    assert [seq for seq, _ in buffer.after(0, max_bytes=5)] == [1, 2]
    assert [seq for seq, _ in buffer.after(0, max_bytes=1)] == [1]
    assert [seq for seq, _ in buffer.after(8, max_count=5, max_bytes=100)] == [9, 10]


def test_storage_is_compacted_as_acks_advance() -> None:
    buffer = ReplayBuffer()
    for i in range(1, 1001):
        buffer.append(i.to_bytes(2, "big"), 2)
        buffer.ack(i - 1)
    assert len(buffer) == 1
    assert buffer.footprint < 200  # compacted, not grown to 1000
    assert buffer.after(999) == [(1000, (1000).to_bytes(2, "big"))]


def test_acknowledged_messages_are_let_go() -> None:
    buffer = ReplayBuffer()
    payload = b"x" * 1000  # the buffer's references show in its reference count
    before = sys.getrefcount(payload)
    for _ in range(10):
        buffer.append(payload, len(payload))
    assert sys.getrefcount(payload) == before + 10
    buffer.ack(4)
    buffer.ack(10)
    assert sys.getrefcount(payload) == before  # nothing kept once all is acknowledged
    assert buffer.append(b"next", 4) == 11
    assert buffer.after(10) == [(11, b"next")]


def test_start_offset() -> None:
    buffer = ReplayBuffer(start=41)
    assert buffer.append("x", 1) == 42
    with pytest.raises(ReplayGap):
        buffer.after(40)


def test_receiver_takes_in_order_drops_duplicates_refuses_gaps() -> None:
    receiver = Receiver()
    assert receiver.accept(1)
    assert receiver.accept(2)
    assert not receiver.accept(2)
    assert not receiver.accept(1)
    with pytest.raises(ProtocolError):
        receiver.accept(4)
    assert receiver.received == 2


def test_receiver_ack_bookkeeping() -> None:
    receiver = Receiver(received=5)
    assert receiver.take_ack() is None
    receiver.accept(6)
    receiver.accept(7)
    assert receiver.unacked == 2
    assert receiver.take_ack() == 7
    assert receiver.take_ack() is None
    assert receiver.unacked == 0
