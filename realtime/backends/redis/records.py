"""How a session's fixed part and changing part are stored in its hash (fields info, st, tr,
seen, cc, cr; see :mod:`~realtime.backends.redis.scripts`)."""

from __future__ import annotations

import json

from realtime.backends.base import SessionInfo, SessionSnapshot
from realtime.backends.redis.codec import limit, text

__all__ = ["SNAPSHOT_FIELDS", "create_arguments", "info_of", "snapshot_of"]

SNAPSHOT_FIELDS = ("st", "tr", "seen", "cc", "cr")


def create_arguments(
    info: SessionInfo,
    now: float,
    key_ttl: float,
    max_sessions: int | None,
    max_per_client: int | None,
) -> list[str | int]:
    """The ``create`` script's arguments (after the prefix)."""
    body = json.dumps(
        {
            "id": info.id,
            "token_hash": info.token_hash,
            "created": info.created,
            "headers": info.headers,
            "query_string": info.query_string,
            "user": info.user,
            "client": info.client,
            "max_queue": info.max_queue,
            "max_buffer_bytes": info.max_buffer_bytes,
            "max_rate": info.max_rate,
            "max_burst": info.max_burst,
            "max_client_bytes": info.max_client_bytes,
            "max_total_bytes": info.max_total_bytes,
        }
    )
    return [
        info.id,
        body,
        limit(info.max_queue),
        limit(info.max_buffer_bytes),
        repr(now),
        round(key_ttl * 1000),
        info.client or "",
        "" if info.max_rate is None else repr(float(info.max_rate)),
        info.max_burst,
        limit(max_sessions),
        limit(max_per_client),
        limit(info.max_client_bytes),
        limit(info.max_total_bytes),
    ]


def info_of(body: bytes | str | None) -> SessionInfo | None:
    if body is None:
        return None
    fields = json.loads(body)
    fields["headers"] = tuple(tuple(pair) for pair in fields["headers"])
    return SessionInfo(**fields)


def snapshot_of(values: list[bytes | str | None]) -> SessionSnapshot | None:
    status, transport, seen, code, reason = values
    if status is None:
        return None
    return SessionSnapshot(
        int(status),
        text(transport) or None,  # type: ignore[arg-type]
        float(seen or 0),
        int(code) if code is not None else None,
        text(reason),
    )
