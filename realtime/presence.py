"""Who is who: the user of a session, and the room that reaches all of a user's sessions.

A user is identified by what the app's ``authenticate`` hook returns: the value of its
``"id"`` key when it is a mapping (``{"id": "ada", "name": "Ada"}``), or the value itself when
it is a str or an int. Other users (None, lists, mappings without ``"id"``) have no id: their
sessions are reachable one by one, not as a user. Every session of a user with an id is in
the room :func:`user_room` from its negotiation on, so ``hub.emit_user`` reaches all their tabs
from any process sharing the backend. Room names starting with ``realtime:`` are the
library's; ``session.rooms()`` does not list them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["RESERVED_PREFIX", "check_user", "user_id_of", "user_room"]

RESERVED_PREFIX = "realtime:"


def user_id_of(user: object) -> str | None:
    """The id of ``user`` (see the module docstring), or None."""
    if isinstance(user, Mapping):
        user = user.get("id")
    if isinstance(user, str) and user:
        return user
    if isinstance(user, int) and not isinstance(user, bool):
        return str(user)
    return None


def user_room(user_id: str) -> str:
    """The room every session of the user ``user_id`` is in."""
    return f"{RESERVED_PREFIX}user:{user_id}"


def check_user(user: object) -> str | None:
    """Why ``user`` cannot be a session's user (it must be JSON, so that any backend stores
    it and any process reads it back the same), or None when it can."""
    try:
        json.dumps(user)
    except (TypeError, ValueError) as exc:
        return (
            f"authenticate returned a {type(user).__name__}, which is not JSON-serialisable "
            f"({exc}); return a dict (e.g. dataclasses.asdict(user)) or a str"
        )
    return None
