from __future__ import annotations

import pytest

from realtime.protocol.limits import Buckets, TokenBucket


def test_a_full_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_tokens_never_exceed_the_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2, now=0.0)
    assert [bucket.take(1000.0) for _ in range(3)] == [True, True, False]


def test_a_clock_going_back_adds_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert not bucket.take(10.5)
    assert bucket.take(11.5)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bad_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, 0.0)


def test_buckets_keep_one_bucket_per_key() -> None:
    buckets = Buckets(rate=1.0, burst=2)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [True, True, False]
    assert buckets.take("b", 0.0)  # another key has its own tokens
    assert buckets.take("a", 1.0)  # a refills at the rate


def test_buckets_forget_only_the_full_ones() -> None:
    buckets = Buckets(rate=1.0, burst=4)
    for key in range(1023):
        assert buckets.take(key, 0.0)
    assert [buckets.take("spent", 0.0) for _ in range(5)] == [True] * 4 + [False]
    assert len(buckets) == 1024
    # 2 s later the 1023 keys would have 5 tokens: full, so the sweep that the 1025th key
    # starts forgets them. The spent key has 2: it is kept, with what it spent.
    assert buckets.take("new", 2.0)
    assert len(buckets) == 2
    assert [buckets.take("spent", 2.0) for _ in range(3)] == [True, True, False]


def test_buckets_refuse_bad_settings() -> None:
    with pytest.raises(ValueError):
        Buckets(rate=0.0, burst=1)
