"""The numbering of a session's messages in the process holding its connection
(realtime/backends/redis/outbox.py): pure, no Redis."""

from __future__ import annotations

import pytest

from realtime.backends.redis.outbox import CHECKPOINT_AGE, Outbox
from realtime.exceptions import ProtocolError, ReplayGap, UnknownSession


class Listener:
    id = "conn-1"

    def wake(self) -> None: ...

    def disconnect(self, code: int, reason: str) -> None: ...


def outbox(max_count: int | None = 3, max_bytes: int | None = None, acked: int = 0) -> Outbox:
    return Outbox(
        "sid",
        Listener(),
        acked=acked,
        acked_g=10,
        cursor=10,
        consumed=0,
        rooms={"room": 5},
        max_count=max_count,
        max_bytes=max_bytes,
    )


def test_messages_are_numbered_in_g_order_and_events_before_the_cursor_are_ignored() -> None:
    box = outbox(acked=4)
    assert box.add(9, "known already", 1, checked=True)  # the attach's reading covered it
    assert box.add(11, "a", 1, checked=True) and box.add(13, b"b", 1, checked=False)
    assert box.add(12, "late", 1, checked=True)  # g 12 < 13: arrived out of order, ignored
    assert box.pending(4, None, None).messages == [(5, "a"), (6, b"b")]
    assert (box.head, box.cursor, box.unacked) == (6, 13, (2, 2))


def test_a_room_message_past_the_window_is_refused_a_direct_one_is_not() -> None:
    box = outbox(max_count=2)
    assert box.add(11, "1", 1, checked=True) and box.add(12, "2", 1, checked=True)
    assert not box.add(13, "3", 1, checked=True)
    assert box.add(14, "direct", 6, checked=False)  # the sender checked the window already
    bytes_box = outbox(max_count=None, max_bytes=10)
    assert bytes_box.add(11, "x" * 8, 8, checked=True)
    assert not bytes_box.add(12, "yyy", 3, checked=True)
    assert bytes_box.add(13, "z" * 2, 2, checked=True)


def test_acks_free_the_window_and_move_the_checkpoint_to_the_message_s_g() -> None:
    box = outbox(max_count=2)
    box.add(11, "1", 1, checked=True)
    box.add(12, "2", 1, checked=True)
    assert box.ack(1) and not box.ack(1)
    assert (box.acked, box.acked_g, box.unacked) == (1, 11, (1, 1))
    assert box.add(13, "3", 1, checked=True)
    with pytest.raises(ProtocolError):
        box.ack(9)
    with pytest.raises(ReplayGap):
        box.pending(0, None, None)
    with pytest.raises(ProtocolError):
        box.pending(5, None, None)


def test_pending_stops_at_its_bounds_and_says_more_wait() -> None:
    box = outbox(max_count=None)
    for g in range(11, 16):
        box.add(g, "x" * 4, 4, checked=True)
    first = box.pending(0, 2, None)
    assert [seq for seq, _ in first.messages] == [1, 2] and first.more
    by_bytes = box.pending(2, None, 9)
    assert [seq for seq, _ in by_bytes.messages] == [3, 4] and by_bytes.more
    assert [seq for seq, _ in box.pending(4, None, 1).messages] == [5]  # one always goes


def test_a_close_comes_after_the_messages_before_it_and_takes_back_those_after() -> None:
    box = outbox(max_count=None)
    for g in (11, 12, 14):
        box.add(g, str(g), 2, checked=g != 14)
    assert box.end(13, 4005, "too many unacknowledged messages")
    assert not box.end(20, 1000, "the first close wins")
    assert box.pending(0, None, None).messages == [(1, "11"), (2, "12")]
    assert box.pending(0, None, None).close == (4005, "too many unacknowledged messages")
    assert box.pending(0, 1, None).close is None  # not before the last message
    assert box.add(15, "after the close", 1, checked=True) and box.head == 2
    assert list(box.directs) == []  # the direct message at g 14 was taken back too


def test_memberships_follow_the_order() -> None:
    box = outbox()
    assert box.joined(11, "sport") and not box.joined(11, "sport")
    assert box.left(12, "room") and not box.left(9, "sport")
    assert box.rooms == {"sport": 11}


def test_a_checkpoint_is_due_for_a_waiting_sender_a_direct_message_a_stride_or_an_age() -> None:
    box = outbox(max_count=None)
    for g in range(11, 21):
        box.add(g, "x", 1, checked=g != 15)  # message 5 is direct
    assert not box.due(0.0, 4)  # nothing acknowledged
    box.ack(2)
    assert not box.due(0.0, 4) and box.due(CHECKPOINT_AGE, 4)
    box.ack(4)
    assert box.due(0.0, 4)  # a stride of 4
    box.wrote(0.0, 4)
    assert not box.due(0.0, 4)
    box.ack(5)
    assert box.due(0.0, 4)  # the direct message: Redis frees its bytes at the checkpoint
    box.wrote(0.0, 5)
    box.waiter = True
    assert box.due(0.0, 4)  # a sender waits for room
    box.wrote(0.0, 5)
    assert not box.due(0.0, 4)


def test_a_session_found_gone_refuses_reads() -> None:
    box = outbox()
    box.gone = True
    with pytest.raises(UnknownSession):
        box.pending(0, None, None)
