"""Cancellations that redis-py loses on the way.

A task cancelled while redis-py reads a reply can see the cancellation turn into a broken
connection, which redis-py's retry policy then retries: the command succeeds and the task runs
on as if nobody had asked it to stop. A loop around Redis calls would then never end, and a
server's shutdown would wait for it for ever. Python 3.11's ``Task.cancelling()`` still counts
the request, so the backend re-raises it after every Redis call.
"""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelled"]


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop and still runs."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
