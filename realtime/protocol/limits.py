"""Token buckets: the rate limits on what a client sends (per session, per address).

``rate`` tokens are added per second, up to ``burst``; each message takes one. Pure: time is
an argument. The Redis backend runs the same arithmetic in Lua on fields of the session hash.
"""

from __future__ import annotations

__all__ = ["Buckets", "TokenBucket"]


class TokenBucket:
    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        """Take a token for one message; False when the bucket is empty."""
        if now > self.updated:  # a clock going back adds nothing, and takes nothing back
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class Buckets:
    """One :class:`TokenBucket` per key (a session, a client address), all alike.

    A bucket left alone long enough to fill up is the same as a new one, so full buckets are
    forgotten: the map holds only the keys that spent tokens in the last ``burst / rate``
    seconds, and sweeps itself once it has grown by half since the last sweep.
    """

    __slots__ = ("_buckets", "_sweep_at", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[object, TokenBucket] = {}
        self._sweep_at = 1024

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: object, now: float) -> bool:
        """Take a token from ``key``'s bucket; False when it is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)

    def _sweep(self, now: float) -> None:
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if bucket.tokens + max(0.0, now - bucket.updated) * bucket.rate < bucket.burst
        }
        self._sweep_at = max(1024, len(self._buckets) * 3 // 2)
