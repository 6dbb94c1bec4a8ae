"""Byte budgets: what the sessions of one client address, and of all addresses, may hold.

Each session's queues are bounded by its window (``max_queue`` messages, ``max_buffer_bytes``
bytes, each way). Windows alone multiply: one address may open ``max_sessions_per_client``
sessions and fill every window. A :class:`Budget` bounds the sum of the bytes held in the
queues (messages waiting for an acknowledgement, messages waiting for the handler) by the
sessions of one address, and a shared :class:`Total` bounds the sum over every address.

A message fits when both the address and the total stay within their bounds, or when the
address holds nothing at all: so one message larger than the bound still goes, and the
bound is passed by at most one message per address.

Pure: no I/O, no clock. The memory backend holds one :class:`Budget` per address; the Redis
backend runs the same arithmetic in Lua on two counters.
"""

from __future__ import annotations

__all__ = ["Budget", "Budgets", "Total"]


class Total:
    """The bytes held by every session, and their bound (None: no bound)."""

    __slots__ = ("held", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.held = 0


class Budget:
    """The bytes held by the sessions of one client address."""

    __slots__ = ("held", "limit", "sessions", "total")

    def __init__(self, limit: int | None, total: Total) -> None:
        self.limit = limit
        self.total = total
        self.held = 0
        self.sessions = 0
        """Sessions that draw on this budget (the registry forgets it when none is left)."""

    def fits(self, size: int) -> bool:
        """Whether ``size`` more bytes may be held now."""
        if self.held == 0:
            return True
        if self.limit is not None and self.held + size > self.limit:
            return False
        total = self.total
        return total.limit is None or total.held + size <= total.limit

    def charge(self, size: int) -> None:
        """``size`` more bytes are held (negative: freed)."""
        self.held += size
        self.total.held += size

    def refusal(self, size: int) -> str:
        """Why :meth:`fits` said no to ``size`` bytes, for a reason or an exception."""
        if self.limit is not None and self.held + size > self.limit:
            return f"this client address's sessions hold {self.held} bytes (max_client_bytes)"
        return f"the server's sessions hold {self.total.held} bytes (max_total_bytes)"


class Budgets:
    """One :class:`Budget` per client address, all drawing on one :class:`Total`."""

    __slots__ = ("_budgets", "total")

    def __init__(self) -> None:
        self.total = Total(None)
        self._budgets: dict[str | None, Budget] = {}

    def __len__(self) -> int:
        return len(self._budgets)

    def sessions(self, client: str | None) -> int:
        """How many sessions draw on ``client``'s budget."""
        budget = self._budgets.get(client)
        return 0 if budget is None else budget.sessions

    def held(self, client: str | None = None) -> int:
        """Bytes held by ``client``'s sessions (None: by every session)."""
        if client is None:
            return self.total.held
        budget = self._budgets.get(client)
        return 0 if budget is None else budget.held

    def join(self, client: str | None, limit: int | None, total: int | None) -> Budget:
        """The budget of ``client``'s sessions, for one more session.

        ``limit`` and ``total`` are the bounds the session was created with; the newest
        creation sets them (they come from the application's settings, the same for all).
        """
        self.total.limit = total
        budget = self._budgets.get(client)
        if budget is None:
            budget = self._budgets[client] = Budget(limit, self.total)
        budget.limit = limit
        budget.sessions += 1
        return budget

    def leave(self, client: str | None, held: int) -> None:
        """A session of ``client`` is forgotten, with ``held`` bytes still in its queues."""
        budget = self._budgets.get(client)
        if budget is None:
            return
        budget.charge(-held)
        budget.sessions -= 1
        if budget.sessions <= 0:
            self.total.held -= budget.held  # nothing should be left; never leak it
            del self._budgets[client]
