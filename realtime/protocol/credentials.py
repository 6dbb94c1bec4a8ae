"""A session's credentials beside its token, as pure state: the tickets that stand for the
token in the one URL that must carry a credential, and the tokens handed out by rotation.

Everything is a SHA-256 (hex) of the secret, never the secret itself; time is an argument.
The memory backend holds these; the Redis backend runs the same rules in Lua
(:mod:`realtime.backends.redis.credentials`), held to them by one backend test suite.
"""

from __future__ import annotations

import hmac

__all__ = ["Tickets", "Tokens"]


class Tickets:
    """Single-use tickets, each good until its expiry; the newest ``most`` are kept."""

    __slots__ = ("_expiries", "most")

    def __init__(self, most: int) -> None:
        self.most = most
        self._expiries: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._expiries)

    def add(self, ticket_hash: str, expires: float) -> None:
        expiries = self._expiries
        expiries[ticket_hash] = expires
        while len(expiries) > self.most:
            del expiries[min(expiries, key=expiries.__getitem__)]

    def use(self, ticket_hash: str, now: float) -> bool:
        """Whether the ticket is good at ``now``; asked about, it is used up."""
        expires = self._expiries.pop(ticket_hash, None)
        return expires is not None and now <= expires


class Tokens:
    """A session's token once rotation began: the current one, the ones handed out for the
    client's next connections (the newest ``most``), and the previous one, good until
    ``until`` for requests in flight."""

    __slots__ = ("current", "most", "previous", "until", "waiting")

    def __init__(self, current: str, most: int) -> None:
        self.current = current
        self.most = most
        self.waiting: list[str] = []
        self.previous: str | None = None
        self.until = 0.0

    def hand_out(self, token_hash: str) -> None:
        self.waiting.append(token_hash)
        del self.waiting[: -self.most]

    def check(self, presented: str, now: float, grace: float) -> bool:
        """Whether ``presented`` is good at ``now``. A token handed out becomes the current
        one when first presented: the one before it stays good for ``grace`` seconds, the
        other ones handed out are dropped."""
        if hmac.compare_digest(presented, self.current):
            return True
        for waiting in self.waiting:
            if hmac.compare_digest(presented, waiting):
                self.previous, self.until = self.current, now + grace
                self.current, self.waiting = waiting, []
                return True
        previous = self.previous
        if previous is None or now > self.until:
            return False
        return hmac.compare_digest(presented, previous)
