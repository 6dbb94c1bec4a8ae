"""A session's credentials in Redis, beside its protocol state.

Tokens: the session's hash holds the current token's SHA-256 (``tk``; until the first
rotation, the one in ``info``), the ones handed out for the next connection (``tp``, space
separated), and the previous one with the time it stops being good (``to``, ``te``).

Tickets, the single-use credentials that stand for the token in the one URL that must carry a
credential (an EventSource's): a sorted set per session of their SHA-256 scored by their
expiry; it expires with the newest ticket, so it needs no cleanup."""

from __future__ import annotations

import weakref
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["add_ticket", "check_token", "rotate_token", "run_script", "use_ticket"]

# KEYS: the session's hash. ARGV: the new token's hash, the most kept waiting.
_ROTATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local waiting = {}
for hash in string.gmatch(redis.call('HGET', KEYS[1], 'tp') or '', '%S+') do
  table.insert(waiting, hash)
end
table.insert(waiting, ARGV[1])
while #waiting > tonumber(ARGV[2]) do table.remove(waiting, 1) end
redis.call('HSET', KEYS[1], 'tp', table.concat(waiting, ' '))
return 1
"""

# KEYS: the session's hash. ARGV: the presented token's hash, now, the grace (seconds).
_CHECK = """
local f = redis.call('HMGET', KEYS[1], 'tk', 'tp', 'to', 'te', 'info')
if not f[5] then return 0 end
local current = f[1] or cjson.decode(f[5])['token_hash']
if ARGV[1] == current then return 1 end
for hash in string.gmatch(f[2] or '', '%S+') do
  if hash == ARGV[1] then
    local until_ = tonumber(ARGV[2]) + tonumber(ARGV[3])
    redis.call('HSET', KEYS[1], 'tk', hash, 'to', current, 'te', tostring(until_))
    redis.call('HDEL', KEYS[1], 'tp')
    return 1
  end
end
if f[3] and ARGV[1] == f[3] and tonumber(ARGV[2]) <= tonumber(f[4]) then return 1 end
return 0
"""

# KEYS: the session's hash, its tickets. ARGV: the ticket's hash, its expiry (seconds), the
# most tickets kept, the set's TTL (ms).
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""

# KEYS: the session's tickets. ARGV: the ticket's hash, now (seconds).
_USE = """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(expires) < tonumber(ARGV[2]) then return 0 end
return 1
"""


_SCRIPTS: weakref.WeakKeyDictionary[Redis, dict[str, AsyncScript]] = weakref.WeakKeyDictionary()


async def run_script(client: Redis, source: str, keys: list[str], args: list[Any]) -> Any:
    """Run a small script by its SHA (EVALSHA, loaded once), not its source every time."""
    scripts = _SCRIPTS.setdefault(client, {})
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = client.register_script(source)
    return await script(keys=keys, args=args)


async def add_ticket(
    client: Redis,
    session_key: str,
    tickets_key: str,
    ticket_hash: str,
    expires: float,
    lifetime: float,
    most: int,
) -> bool:
    """Keep a ticket until ``expires`` (``lifetime`` seconds from now); at most ``most``."""
    ttl = max(1, round(lifetime * 1000))
    return bool(
        await run_script(
            client, _ADD, [session_key, tickets_key], [ticket_hash, repr(expires), most, ttl]
        )
    )


async def use_ticket(client: Redis, tickets_key: str, ticket_hash: str, now: float) -> bool:
    return bool(await run_script(client, _USE, [tickets_key], [ticket_hash, repr(now)]))


async def rotate_token(client: Redis, session_key: str, token_hash: str, most: int) -> bool:
    return bool(await run_script(client, _ROTATE, [session_key], [token_hash, most]))


async def check_token(
    client: Redis, session_key: str, token_hash: str, now: float, grace: float
) -> bool:
    arguments = [token_hash, repr(now), repr(grace)]
    return bool(await run_script(client, _CHECK, [session_key], arguments))
