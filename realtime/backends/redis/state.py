"""What the Redis backend keeps beside the protocol's state: the handler's saved state (a
field of the session's hash, so that it goes with the session) and presence (a room's
sessions with their users, read in one round trip)."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from realtime.backends.redis.codec import text
from realtime.backends.redis.credentials import run_script
from realtime.types import SessionId

__all__ = ["load_state", "presence", "save_state"]

# The state is a field of the session's hash: set only while the session exists, so that a
# save racing the session's end does not bring back a hash without its protocol fields.
_SAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1
"""


async def save_state(client: Redis, session_key: str, state: str) -> bool:
    return bool(await run_script(client, _SAVE, [session_key], [state]))


async def load_state(client: Redis, session_key: str) -> str | None:
    value = await client.hget(session_key, "state")
    return None if value is None else text(value)


async def presence(client: Redis, prefix: str, room: str) -> dict[SessionId, object]:
    members = [text(member) for member in await client.smembers(f"{prefix}:room:{room}")]
    if not members:
        return {}
    async with client.pipeline(transaction=False) as pipe:
        for member in members:
            pipe.hget(f"{prefix}:s:{member}", "info")
        bodies = await pipe.execute()
    return {
        SessionId(member): json.loads(body)["user"]
        for member, body in zip(members, bodies, strict=True)
        if body is not None
    }
