"""What operators see: one log line per session open, resume and close, and a metrics hook.

Log lines go to the ``realtime.sessions`` logger at INFO, as ``key=value`` pairs, with the
same fields in ``extra`` (``session_id``, ``transport``, ``code``...) for JSON formatters::

    session opened session_id=Zt8... transport=sse client=10.0.0.7 fallback=websocket:open
    session resumed session_id=Zt8... transport=sse
    session closed session_id=Zt8... transport=websocket code=1000 reason=""

The metrics hook, ``RealtimeApp(metrics=callback)``, is called with an event name and string
labels, made for counters (a Prometheus ``Counter(...).labels(**labels).inc()``, say):

===================== ====================================================================
``session.opened``    ``transport``: a session's first connection
``session.resumed``   ``transport``: a later connection (reconnect, change of transport)
``session.closed``    ``transport``, ``code``: the session ended (4004: a replay gap)
``session.expired``   no label: no connection for ``session_ttl``
``transport.fallback`` ``transport`` (tried), ``to``, ``reason``: the client fell back,
                      ``reason`` being ``open`` (it would not open), ``hello`` (no data
                      came through in time: a buffering proxy) or ``died`` (it opened, then
                      died at once)
===================== ====================================================================

``app.connections()`` counts this process's connections by transport, for a gauge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from realtime.types import TRANSPORT_NAMES, SessionId, TransportName

__all__ = ["FALLBACK_REASONS", "Metrics", "Observer"]

logger = logging.getLogger("realtime.sessions")

Metrics = Callable[[str, Mapping[str, str]], None]

FALLBACK_REASONS = frozenset({"open", "hello", "died"})


def _fallback(value: str | None) -> tuple[str, str] | None:
    """Parse the ``fb`` query parameter, ``<transport>:<reason>``; junk is dropped, so that
    clients cannot invent metric labels."""
    if not value:
        return None
    transport, _, reason = value.partition(":")
    if transport not in TRANSPORT_NAMES or reason not in FALLBACK_REASONS:
        return None
    return transport, reason


def _logfmt(fields: Mapping[str, object]) -> str:
    def quoted(value: object) -> str:
        text = str(value)
        return (
            text
            if text and " " not in text and '"' not in text
            else '"' + text.replace('"', "'") + '"'
        )

    return " ".join(f"{key}={quoted(value)}" for key, value in fields.items() if value is not None)


class Observer:
    """Turns session events into log lines and metrics events."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    def _emit(self, event: str, labels: Mapping[str, str]) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics(event, labels)
        except Exception:
            logger.exception("the metrics hook failed on %s", event)

    def _log(self, what: str, fields: dict[str, object]) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("session %s %s", what, _logfmt(fields), extra=fields)

    def connected(
        self,
        session_id: SessionId,
        transport: TransportName,
        *,
        first: bool,
        client: str | None = None,
        fallback: str | None = None,
    ) -> None:
        """A connection attached: the session's first one, or a later one."""
        tried = _fallback(fallback)
        event = "opened" if first else "resumed"
        fields: dict[str, object] = {"session_id": session_id, "transport": transport}
        if first:
            fields["client"] = client
        if tried is not None:
            fields["fallback"] = f"{tried[0]}:{tried[1]}"
        self._log(event, fields)
        self._emit(f"session.{event}", {"transport": transport})
        if tried is not None:
            labels = {"transport": tried[0], "to": transport, "reason": tried[1]}
            self._emit("transport.fallback", labels)

    def closed(
        self, session_id: SessionId, transport: TransportName | None, code: int, reason: str
    ) -> None:
        fields: dict[str, object] = {
            "session_id": session_id,
            "transport": transport,
            "code": code,
            "reason": reason,
        }
        self._log("closed", fields)
        self._emit("session.closed", {"transport": transport or "", "code": str(code)})

    def expired(self, session_id: SessionId) -> None:
        self._log("expired", {"session_id": session_id})
        self._emit("session.expired", {})
