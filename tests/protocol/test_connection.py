from __future__ import annotations

import pytest

from realtime.protocol.connection import ConnectionProtocol, Violation
from realtime.protocol.frames import Ack, Close, Data, Hello, Ping, Pong, Reconnect


def server(now: float = 0.0, **options: object) -> ConnectionProtocol:
    defaults: dict[str, object] = {
        "ping_interval": 10.0,
        "ping_timeout": 5.0,
        "ack_batch": 3,
        "ack_delay": 0.5,
    }
    return ConnectionProtocol(is_server=True, now=now, **{**defaults, **options})  # type: ignore[arg-type]


def client(now: float = 0.0, **options: object) -> ConnectionProtocol:
    defaults: dict[str, object] = {
        "ping_interval": 10.0,
        "ping_timeout": 5.0,
        "ack_batch": 3,
        "ack_delay": 0.5,
    }
    return ConnectionProtocol(is_server=False, now=now, **{**defaults, **options})  # type: ignore[arg-type]


def test_receive_decodes_and_tracks_liveness() -> None:
    proto = server()
    assert proto.receive("d1:hi", now=1.0) == Data(1, "hi")
    assert proto.last_received == 1.0


def test_bad_input_is_a_violation_never_an_exception() -> None:
    proto = server(max_message_size=4)
    assert proto.receive("nonsense", now=1.0) == Violation(1002, "unknown frame 'nonsense'")
    too_big = proto.receive("d1:12345", now=1.0)
    assert isinstance(too_big, Violation) and too_big.code == 1009
    bad_b64 = proto.receive("b1:!!", now=1.0)
    assert isinstance(bad_b64, Violation) and bad_b64.code == 1007


@pytest.mark.parametrize("raw", ['h{"ack":1}', "r4001:x"])
def test_a_client_may_not_send_server_frames(raw: str) -> None:
    result = server().receive(raw, now=0)
    assert isinstance(result, Violation) and result.code == 1002


def test_the_client_side_accepts_server_frames() -> None:
    proto = client()
    assert proto.receive('h{"ack":1}', now=0) == Hello(1)
    assert proto.receive("r4001:x", now=0) == Reconnect(4001, "x")
    assert proto.receive("c1000:", now=0) == Close(1000, "")


def test_acks_are_coalesced_by_count() -> None:
    proto = server()
    proto.delivered(1, now=1.0)
    proto.delivered(2, now=1.1)
    assert proto.due(1.2) == []
    proto.delivered(3, now=1.2)  # 3 unacked == ack_batch: due at once
    assert proto.next_deadline() == 1.0
    assert proto.due(1.2) == [Ack(3)]
    assert proto.due(1.3) == []


def test_acks_are_coalesced_by_delay() -> None:
    proto = server()
    proto.delivered(1, now=1.0)
    assert proto.next_deadline() == 1.5
    assert proto.due(1.49) == []
    assert proto.due(1.5) == [Ack(1)]
    proto.delivered(1, now=2.0)  # nothing new
    assert proto.due(3.0) == []


def test_a_stream_is_acked_by_count_not_by_the_clock() -> None:
    """While messages keep coming within ``ack_delay``, the ack waits for more (the count
    sends it), but never longer than ``ack_max_delay`` after the first."""
    proto = server(ack_batch=100, ack_max_delay=2.0)
    for i in range(1, 5):  # a message every 0.4 s < ack_delay: nothing due
        proto.delivered(i, now=i * 0.4)
        assert proto.due(i * 0.4 + 0.39) == []
    assert proto.next_deadline() == 1.6 + 0.5
    proto.delivered(5, now=2.0)
    proto.delivered(6, now=2.3)
    assert proto.next_deadline() == 0.4 + 2.0  # the cap: 2 s after the first
    assert proto.due(2.39) == []
    assert proto.due(2.4) == [Ack(6)]
    proto.delivered(7, now=3.0)  # the next ack counts from its own first message
    assert proto.next_deadline() == 3.5
    assert proto.due(3.5) == [Ack(7)]


def test_take_ack_regardless_of_batching() -> None:
    proto = server()
    assert proto.take_ack() is None
    proto.delivered(2, now=0)
    assert proto.take_ack() == Ack(2)
    assert proto.take_ack() is None


def test_a_ping_is_answered_with_a_pong_unless_something_else_goes() -> None:
    proto = client()
    assert proto.receive("p", now=1.0) == Ping()
    assert proto.next_deadline() == 1.0
    assert proto.due(1.0) == [Pong()]
    proto.sent(1, now=1.0)
    assert proto.due(1.1) == []
    proto.receive("p", now=2.0)
    proto.delivered(4, now=2.0)
    proto.delivered(5, now=2.0)
    proto.delivered(6, now=2.0)
    assert proto.due(2.0) == [Ack(6)]  # the ack answers the ping too


def test_server_pings_after_an_idle_interval() -> None:
    proto = server(now=0.0)
    assert proto.next_deadline() == 10.0
    assert proto.due(9.9) == []
    assert proto.due(10.0) == [Ping()]
    proto.sent(1, now=10.0)
    assert proto.next_deadline() == 15.0  # dead_at: 0 + 10 + 5
    proto.sent(0, now=12.0)  # nothing written: no change
    assert proto.last_sent == 10.0


def test_clients_never_ping_on_their_own() -> None:
    proto = client(now=0.0)
    assert proto.due(100.0) == []
    assert proto.next_deadline() == 15.0


def test_silence_past_interval_plus_timeout_is_death() -> None:
    proto = server(now=0.0)
    assert not proto.is_dead(14.9)
    assert proto.is_dead(15.0)
    proto.receive("q", now=14.0)
    assert not proto.is_dead(28.9)
    assert proto.is_dead(29.0)


def test_no_heartbeats_when_disabled() -> None:
    proto = ConnectionProtocol(is_server=True, now=0.0, ping_interval=None, ping_timeout=None)
    assert proto.next_deadline() is None
    assert proto.dead_at() is None
    assert not proto.is_dead(1e9)
    assert proto.due(1e9) == []


def test_ack_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ConnectionProtocol(is_server=True, now=0, ack_batch=0)


def test_received_baseline_is_not_acked_again() -> None:
    proto = server(received=10)
    proto.delivered(10, now=0)
    assert proto.take_ack() is None
    proto.delivered(11, now=0)
    assert proto.take_ack() == Ack(11)
