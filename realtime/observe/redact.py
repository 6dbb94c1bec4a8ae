"""Keep session tokens out of access logs.

The WebSocket and event-stream URLs carry the session's token (``?token=...``): browsers can
set no header on either. Whoever reads an access log that records it could resume the session
while it lives, so :class:`RedactTokens` replaces every token in a log record's arguments
and message with ``REDACTED``. :func:`realtime.uvicorn.serve` installs it on uvicorn's access
logger; with another server, add it to the logger that writes request lines::

    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    logging.getLogger("hypercorn.access").addFilter(RedactTokens())
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactTokens", "redact"]

_TOKEN = re.compile(r"([?&]token=)[^&#\s\"']+")


def redact(text: str) -> str:
    """``text`` with the value of every ``token`` query parameter replaced by ``REDACTED``."""
    return _TOKEN.sub(r"\1REDACTED", text)


class RedactTokens(logging.Filter):
    """A logging filter that redacts ``token=`` query parameters; it drops no record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and "token=" in arg else arg
                for arg in record.args
            )
        return True
