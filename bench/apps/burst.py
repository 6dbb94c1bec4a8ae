"""The payloads of ``POST /bench/burst``, which every bench app serves the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator

__all__ = ["burst_payloads"]

FILLER = "x" * 40


def burst_payloads(body: bytes) -> Iterator[str]:
    """``"<start> <count>"`` gives broadcasts ``start`` to ``start + count - 1``, each
    stamped with ``time.perf_counter()`` as it is made (just before it is published)."""
    start, count = (int(word) for word in body.split())
    for i in range(start, start + count):
        yield f"{i} {time.perf_counter()!r} {FILLER}"
