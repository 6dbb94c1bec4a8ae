"""The Python client's per-connection logic, without I/O."""

from __future__ import annotations

from realtime.client.engine import ClientState, Ended, Link
from realtime.protocol.negotiate import Negotiated


def session(max_queue: int | None = 8) -> ClientState:
    return ClientState(
        Negotiated(
            session_id="sid",
            token="tok",
            transports=("websocket",),
            ping_interval=10.0,
            ping_timeout=5.0,
            poll_timeout=20.0,
            session_ttl=30.0,
            max_message_size=None,
            max_queue=max_queue,
            max_buffer_bytes=None,
            max_batch=256,
        )
    )


def test_a_new_connection_resends_what_the_server_did_not_read() -> None:
    state = session()
    for i in range(1, 6):
        state.outbox.append(f"m{i}", 2)
    link = Link(state, 0.0, ack_delay=0.05)
    assert link.receive('h{"ack":2}', 0.0) is None
    assert link.opened.is_set()
    assert [seq for seq, _ in link.messages()] == [3, 4, 5]


def test_late_acks_of_the_previous_connection_are_never_resent_nor_a_gap() -> None:
    state = session()
    for i in range(1, 6):
        state.outbox.append(f"m{i}", 2)
    old, new = Link(state, 0.0, ack_delay=0.05), Link(state, 0.0, ack_delay=0.05)
    assert new.receive('h{"ack":1}', 0.0) is None  # the hello says 1...
    assert old.receive("a4", 0.0) is None  # ...then the old connection's late ack says 4
    assert [seq for seq, _ in new.messages()] == [5]


def test_duplicates_are_dropped_and_gaps_end_the_connection() -> None:
    state = session()
    link = Link(state, 0.0, ack_delay=0.05)
    link.receive('h{"ack":0}', 0.0)
    assert link.receive("d1:a", 0.0) is None
    assert link.receive("d1:a again", 0.0) is None
    assert list(state.inbox) == ["a"]
    ended = link.receive("d3:skipped one", 0.0)
    assert isinstance(ended, Ended) and ended.code == 1002 and not ended.over


def test_acks_follow_what_the_application_read() -> None:
    state = session(max_queue=8)  # acks after a quarter of the window: 2 messages
    link = Link(state, 0.0, ack_delay=0.05)
    link.receive('h{"ack":0}', 0.0)
    for i in range(1, 4):
        link.receive(f"d{i}:m{i}", 0.0)
    assert link.control_frames(0.0) == []  # received, but not read
    state.inbox.popleft()
    state.inbox.popleft()
    assert link.control_frames(0.0) == ["a2"]


def test_unknown_frame_kinds_are_ignored_and_close_frames_end_the_session() -> None:
    link = Link(session(), 0.0, ack_delay=0.05)
    assert link.receive("zfuture frame", 1.0) is None
    assert link.receive("c4000:expired", 1.0) == Ended(4000, "expired", over=True)
    assert link.receive("r1012:restart", 1.0) == Ended(1012, "restart")
