"""A token bucket: the per-session rate limit on messages from the client.

``rate`` tokens are added per second, up to ``burst``; each message takes one. Pure: time is
an argument. The Redis backend runs the same arithmetic in Lua on fields of the session hash.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


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
