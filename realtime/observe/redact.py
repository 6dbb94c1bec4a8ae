"""Keep session credentials out of access logs.

No URL carries a session's token: the server refuses one that does (see
:mod:`realtime.server.credentials`), but the refused request is logged all the same, and an
event stream's URL carries a ticket, used up by the time its request is logged (a proxy may
log it before). :class:`RedactTokens` replaces every ``token`` and ``ticket`` query value in
a log record's arguments and message with ``REDACTED``. :func:`realtime.uvicorn.serve`
installs it on uvicorn's access logger; with another server, add it to the logger that writes
request lines::

    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    logging.getLogger("hypercorn.access").addFilter(RedactTokens())
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactTokens", "redact"]

_SECRET = re.compile(r"([?&](?:token|ticket)=)[^&#\s\"']+")


def _has_secret(text: str) -> bool:
    return "token=" in text or "ticket=" in text


def redact(text: str) -> str:
    """``text`` with the value of every ``token`` and ``ticket`` query parameter replaced by
    ``REDACTED``."""
    return _SECRET.sub(r"\1REDACTED", text)


class RedactTokens(logging.Filter):
    """A logging filter that redacts ``token=`` and ``ticket=`` query parameters; it drops
    no record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _has_secret(record.msg):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and _has_secret(arg) else arg
                for arg in record.args
            )
        return True
