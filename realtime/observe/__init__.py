"""What operators see: one log line per session open, resume and close, and a metrics hook.

Log lines go to the ``realtime.sessions`` logger at INFO, as ``key=value`` pairs, with the
same fields in ``extra`` (``session_id``, ``transport``, ``user``, ``code``...) for JSON
formatters::

    session opened session_id=Zt8 transport=sse user=alice client=10.0.0.7 fallback=websocket:open
    session resumed session_id=Zt8 transport=sse user=alice
    session closed session_id=Zt8 transport=websocket user=alice code=1000 reason=""

``user`` is the id of what the ``authenticate`` hook returned (see :func:`user_id`), absent
without one.

The metrics hook, ``RealtimeApp(metrics=callback)``, is called with an event name and string
labels, made for counters (a Prometheus ``Counter(...).labels(**labels).inc()``, say):

======================= ==================================================================
``session.negotiated``  ``status``: a negotiation was answered (200, or the refusal's HTTP
                        status: 401, 403, 429, 503...)
``session.opened``      ``transport``: a session's first connection
``session.resumed``     ``transport``: a later connection (reconnect, change of transport)
``session.closed``      ``transport``, ``code``: the session ended (4004: a replay gap)
``session.expired``     no label: no connection for ``session_ttl``
``transport.fallback``  ``transport`` (tried), ``to``, ``reason``: the client fell back,
                        ``reason`` being ``open`` (it would not open), ``hello`` (no data
                        came through in time: a buffering proxy) or ``died`` (it opened,
                        then died at once)
``room.published``      no label: ``app.hub.publish`` queued a message for a room
======================= ==================================================================

A :class:`Recorder` given as the hook sees each :class:`Event` whole instead: its duration,
session id, user and details (room, recipients, close reason), which labels leave out because
they are unbounded. Two come with the library, as optional extras:
:class:`realtime.observe.prometheus.PrometheusMetrics` (``[prometheus]``) and
:class:`realtime.observe.otel.OpenTelemetrySpans` (``[otel]``); :func:`combine` gives both.

``app.connections()`` counts this process's connections by transport, for a gauge.
"""

from __future__ import annotations

import abc
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from realtime.observe.redact import RedactTokens, redact
from realtime.types import TRANSPORT_NAMES, SessionId, TransportName

__all__ = [
    "FALLBACK_REASONS",
    "Event",
    "Metrics",
    "Observer",
    "Recorder",
    "RedactTokens",
    "combine",
    "escape",
    "logfmt",
    "parse_fallback",
    "redact",
    "user_id",
]

logger = logging.getLogger("realtime.sessions")

Metrics = Callable[[str, Mapping[str, str]], None]

FALLBACK_REASONS = frozenset({"open", "hello", "died"})

EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Event:
    """One observed step, as a :class:`Recorder` gets it."""

    name: str
    """The metrics hook's event name: ``session.opened``, ``room.published``..."""
    labels: Mapping[str, str]
    """The metrics hook's labels: values from small fixed sets only."""
    time: float = field(default_factory=time.time)
    """When the step ended, in seconds since the epoch."""
    duration: float | None = None
    """How long the step took, in seconds, when the server measured it."""
    session_id: SessionId | None = None
    """The session the step belongs to (None for a refused negotiation, a publish)."""
    user: str | None = None
    """The session's user id (:func:`user_id`), if it has one."""
    details: Mapping[str, str | int] = field(default_factory=dict)
    """What labels leave out: ``client``, ``fallback``, ``reason``, ``room``,
    ``recipients``, ``size``, ``error``, ``transports``."""


class Recorder(abc.ABC):
    """A metrics hook that sees each :class:`Event` whole. It can also be called as a plain
    hook, ``recorder(event_name, labels)``, and then records an event without details."""

    @abc.abstractmethod
    def record(self, event: Event) -> None:
        """Take one event; exceptions are logged by the caller, never raised to a request."""

    def __call__(self, event: str, labels: Mapping[str, str]) -> None:
        self.record(Event(event, labels))


def _deliver(hook: Metrics, event: Event) -> None:
    try:
        if isinstance(hook, Recorder):
            hook.record(event)
        else:
            hook(event.name, event.labels)
    except Exception:
        logger.exception("the metrics hook failed on %s", event.name)


class _Combined(Recorder):
    def __init__(self, hooks: Sequence[Metrics]) -> None:
        self.hooks = tuple(hooks)

    def record(self, event: Event) -> None:
        for hook in self.hooks:
            _deliver(hook, event)


def combine(*hooks: Metrics) -> Recorder:
    """One hook that hands every event to each of ``hooks`` (recorders or plain callables);
    one that raises does not keep the event from the others:
    ``RealtimeApp(metrics=combine(PrometheusMetrics(), OpenTelemetrySpans()))``."""
    return _Combined(hooks)


def user_id(user: object) -> str | None:
    """The id to log for what the ``authenticate`` hook returned: a ``str`` or an ``int``
    itself, else an ``id`` attribute or key (a dataclass, a mapping, an ORM object...);
    None for anything else, rather than a ``repr`` that could hold secrets."""
    if isinstance(user, bool) or user is None:
        return None
    if isinstance(user, str | int):
        return str(user)
    found = user.get("id") if isinstance(user, Mapping) else getattr(user, "id", None)
    if isinstance(found, str | int) and not isinstance(found, bool):
        return str(found)
    return None


def parse_fallback(value: str | None) -> tuple[str, str] | None:
    """Parse the ``fb`` query parameter, ``<transport>:<reason>``; junk is dropped, so that
    clients cannot invent metric labels."""
    if not value:
        return None
    transport, _, reason = value.partition(":")
    if transport not in TRANSPORT_NAMES or reason not in FALLBACK_REASONS:
        return None
    return transport, reason


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\"]')
"""Control characters (C0, DEL, C1), the Unicode line and paragraph separators, and what
quoting needs: escaped in every value, so that no field can start a forged log line."""


def escape(text: str) -> str:
    """``text`` with control characters, backslashes and quotes escaped (``\\n``,
    ``\\x1b``, ``\\"``): safe in a log line, whatever a client put in it."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs; None left out. A value with a space, a quote, a backslash or an
    ``=`` is quoted, and control characters are escaped (``\\n``, ``\\x1b``): whatever a client
    put in a close reason or a header, a log line stays one line."""

    def quoted(value: object) -> str:
        text = str(value)
        escaped = escape(text)
        if text and escaped == text and " " not in text and "=" not in text:
            return text
        return f'"{escaped}"'

    return " ".join(f"{key}={quoted(value)}" for key, value in fields.items() if value is not None)


def _since(started: float | None) -> float | None:
    return None if started is None else max(0.0, time.perf_counter() - started)


class Observer:
    """Turns session events into log lines and metrics events.

    The server calls one method per step, after the step. Where a method takes ``started``,
    it is the ``time.perf_counter()`` of the step's start, for its duration; ``user`` is what
    the ``authenticate`` hook returned (reduced to :func:`user_id`).
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    def _emit(self, event: Event) -> None:
        if self.metrics is not None:
            _deliver(self.metrics, event)

    def _log(self, what: str, fields: dict[str, object]) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("session %s %s", what, logfmt(fields), extra=fields)

    def negotiated(
        self,
        session_id: SessionId | None,
        *,
        status: int = 200,
        transports: Sequence[str] = (),
        user: object = None,
        error: str | None = None,
        started: float | None = None,
    ) -> None:
        """A negotiation was answered: a new session (``status`` 200, the ``transports``
        offered), or a refusal (no session, the HTTP ``status`` and ``error``)."""
        if self.metrics is None:
            return
        details: dict[str, str | int] = {"transports": ",".join(transports)}
        if error is not None:
            details["error"] = error
        event = Event(
            "session.negotiated",
            {"status": str(status)},
            duration=_since(started),
            session_id=session_id,
            user=user_id(user),
            details=details,
        )
        self._emit(event)

    def connected(
        self,
        session_id: SessionId,
        transport: TransportName,
        *,
        first: bool,
        client: str | None = None,
        fallback: str | None = None,
        user: object = None,
        started: float | None = None,
    ) -> None:
        """A connection attached: the session's first one, or a later one."""
        tried = parse_fallback(fallback)
        what = "opened" if first else "resumed"
        uid = user_id(user)
        fields: dict[str, object] = {"session_id": session_id, "transport": transport}
        fields["user"] = uid
        if first:
            fields["client"] = client
        if tried is not None:
            fields["fallback"] = f"{tried[0]}:{tried[1]}"
        self._log(what, fields)
        if self.metrics is None:
            return
        details = {key: str(fields[key]) for key in ("client", "fallback") if fields.get(key)}
        event = Event(
            f"session.{what}",
            {"transport": transport},
            duration=_since(started),
            session_id=session_id,
            user=uid,
            details=details,
        )
        self._emit(event)
        if tried is not None:
            labels = {"transport": tried[0], "to": transport, "reason": tried[1]}
            self._emit(Event("transport.fallback", labels, session_id=session_id, user=uid))

    def closed(
        self,
        session_id: SessionId,
        transport: TransportName | None,
        code: int,
        reason: str,
        *,
        user: object = None,
    ) -> None:
        """The session ended, with ``code`` and ``reason`` (the first close wins)."""
        uid = user_id(user)
        fields: dict[str, object] = {
            "session_id": session_id,
            "transport": transport,
            "user": uid,
            "code": code,
            "reason": reason,
        }
        self._log("closed", fields)
        labels = {"transport": transport or "", "code": str(code)}
        details = {"reason": reason}
        self._emit(
            Event("session.closed", labels, session_id=session_id, user=uid, details=details)
        )

    def expired(self, session_id: SessionId) -> None:
        """The session waited ``session_ttl`` for a connection, in vain."""
        self._log("expired", {"session_id": session_id})
        self._emit(Event("session.expired", EMPTY, session_id=session_id))

    def published(
        self, room: str, *, recipients: int, size: int, started: float | None = None
    ) -> None:
        """``hub.publish`` queued a message of ``size`` bytes for ``recipients`` sessions of
        ``room``. Cheap when no hook is set: it is on the publishing path."""
        if self.metrics is None:
            return
        details: dict[str, str | int] = {"room": room, "recipients": recipients, "size": size}
        self._emit(Event("room.published", EMPTY, duration=_since(started), details=details))
