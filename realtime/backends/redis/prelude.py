"""The Lua functions every script of the Redis backend starts with (see
:mod:`~realtime.backends.redis.scripts` for the keys, :mod:`~realtime.backends.redis.roomlog`
for the logs and their merge)."""

from __future__ import annotations

__all__ = ["PRELUDE"]

PRELUDE = """
local P = ARGV[1]
local BUFFER_OVERFLOW = 'too many unacknowledged messages'
local function key(kind, id) return P .. ':' .. kind .. ':' .. id end
local function g_of(id) return tonumber(string.match(id, '^(%d+)')) end
-- The next place in the global order of the events of the sessions' outgoing sides.
local function next_g() return redis.call('INCR', P .. ':G') end
local function top_g() return tonumber(redis.call('GET', P .. ':G') or '0') end

-- Give ``k`` the TTL of the session's hash ``h`` if it has a shorter one (or none).
local function expire_with(k, h)
  local ttl = redis.call('PTTL', h)
  if ttl > 0 and redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end

-- Where a member of a room is, for a publish (roomlog.py): counted, in p:rn:<room>, among the
-- members whose connection the process ``node`` holds, or, without a connection, in the set
-- p:rw:<room>. ``delta`` 1 puts it there, -1 takes it out. A key it creates gets the TTL of
-- the session's hash ``h`` (the processes' upkeep pushes it back from then on).
local function place(room, sid, node, delta, h)
  if not node or node == '' then
    local waiting = key('rw', room)
    if delta < 0 then redis.call('SREM', waiting, sid)
    elseif redis.call('SADD', waiting, sid) == 1 and h and redis.call('SCARD', waiting) == 1 then
      expire_with(waiting, h)
    end
    return
  end
  local counts = key('rn', room)
  local now = redis.call('HINCRBY', counts, node, delta)
  if now <= 0 then redis.call('HDEL', counts, node)
  elseif h and now == 1 and redis.call('HLEN', counts) == 1 then
    expire_with(counts, h)
  end
end

local function notify(node, message)
  if node and node ~= '' then redis.call('PUBLISH', P .. ':ch:' .. node, message) end
end

local function has_room(count, bytes, size, max_count, max_bytes)
  if count <= 0 then return true end
  if max_count >= 0 and count >= max_count then return false end
  return max_bytes < 0 or bytes + size <= max_bytes
end

-- Whether the index ``index`` (p:all, p:client:<addr>) holds fewer than ``limit`` sessions,
-- once those whose hash is gone (evicted, expired by its TTL) are dropped from it: so a cap
-- never counts sessions that no longer exist. Bounded: the 1000 oldest are looked at.
local function below(index, limit)
  if redis.call('ZCARD', index) < limit then return true end
  for _, sid in ipairs(redis.call('ZRANGE', index, 0, 999)) do
    if redis.call('EXISTS', key('s', sid)) == 0 then redis.call('ZREM', index, sid) end
  end
  return redis.call('ZCARD', index) < limit
end

local function size_of(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'z' then return tonumber(fields[i + 1]) end
  end
  return 0
end

-- The byte budgets (realtime.protocol.budget): the bytes held in the queues of the sessions
-- of one client address (key('mem', ca)) and of every session (P .. ':mem'), bounded by the
-- session's fields mc and mt (-1: no bound). ``f`` holds the session's ca, mc and mt.
local function budget_fits(f, size)
  local held = tonumber(redis.call('GET', key('mem', f[1] or '')) or '0')
  if held <= 0 then return true end
  local max_client, max_total = tonumber(f[2] or '-1'), tonumber(f[3] or '-1')
  if max_client >= 0 and held + size > max_client then
    return false, "this client address's sessions hold " .. held .. ' bytes (max_client_bytes)'
  end
  if max_total < 0 then return true end
  local total = tonumber(redis.call('GET', P .. ':mem') or '0')
  if total + size <= max_total then return true end
  return false, "the server's sessions hold " .. total .. ' bytes (max_total_bytes)'
end

-- ``size`` more bytes held by the session ``h`` of address ``client`` (negative: freed).
-- Neither counter is kept for good: each gets the session's TTL when it starts counting from
-- nothing, and the processes' key upkeep (REFRESH) pushes it back with their sessions'.
local function charge(h, client, size)
  if size == 0 then return end
  local k = key('mem', client or '')
  if redis.call('INCRBY', k, size) == size then expire_with(k, h) end
  if redis.call('INCRBY', P .. ':mem', size) == size then expire_with(P .. ':mem', h) end
end

-- End the session: its messages before ``at`` (default: every one so far) are its last. Its
-- processes are told: the handler's, the connection's and a waiting sender's.
local function close_session(sid, code, reason, at)
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'st', 'hn', 'cn', 'w')
  if not f[1] or f[1] == '3' then return 0 end
  local g = next_g()
  at = at or g
  redis.call('HSET', h, 'st', '3', 'cc', code, 'cr', reason, 'cg', at)
  redis.call('ZREM', P .. ':waiting', sid)
  redis.call('SADD', P .. ':closing', sid)
  local rooms = key('r', sid)
  for _, room in ipairs(redis.call('SMEMBERS', rooms)) do
    redis.call('SREM', key('room', room), sid)
    place(room, sid, f[3], -1)
  end
  redis.call('DEL', rooms)
  local note = 'c ' .. at .. ' ' .. sid .. ' ' .. code .. ' ' .. reason
  notify(f[2], note)
  if f[3] ~= f[2] then notify(f[3], note) end
  if f[4] and f[4] ~= f[2] and f[4] ~= f[3] then notify(f[4], note) end
  return 1
end

-- Move the session's checkpoint to message ``seq`` at ``g`` (roomlog.py): its own log's
-- messages up to ``g`` are acknowledged, their bytes (field ob) given back, and its past
-- memberships that ended before ``g`` are forgotten.
local function checkpoint(sid, h, seq, g, client)
  redis.call('HSET', h, 'oa', seq, 'og', g)
  local f = redis.call('HMGET', h, 'on', 'rh')
  if tonumber(f[1] or '0') > 0 then  -- messages in its own log
    local own, freed = key('o', sid), 0
    for _, entry in ipairs(redis.call('XRANGE', own, '-', g .. '-0')) do
      freed = freed + size_of(entry[2])
    end
    redis.call('HINCRBY', h, 'on', 0 - redis.call('XTRIM', own, 'MINID', (g + 1) .. '-0'))
    if freed > 0 then
      redis.call('HINCRBY', h, 'ob', 0 - freed)  -- not -freed: Lua's -0 is no integer to Redis
      charge(h, client, 0 - freed)
    end
  end
  if f[2] then  -- past memberships
    local past = key('rh', sid)
    local all = redis.call('HGETALL', past)
    for i = 1, #all, 2 do
      local keep = {}
      for j, l in string.gmatch(all[i + 1], '(%d+):(%d+)') do
        if tonumber(l) > g then keep[#keep + 1] = j .. ':' .. l end
      end
      if #keep == 0 then redis.call('HDEL', past, all[i])
      else redis.call('HSET', past, all[i], table.concat(keep, ' ')) end
    end
    if redis.call('EXISTS', past) == 0 then redis.call('HDEL', h, 'rh') end
  end
end

local function forget(sid)
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'ca', 'ob', 'ib', 'wb')
  local client = f[1]
  if f[2] then
    charge(h, client, 0 - tonumber(f[2]) - tonumber(f[3]) - tonumber(f[4] or '0'))
  end
  redis.call('DEL', h, key('o', sid), key('i', sid), key('r', sid), key('ri', sid),
    key('rh', sid))
  redis.call('ZREM', P .. ':closed', sid)
  redis.call('ZREM', P .. ':waiting', sid)
  redis.call('ZREM', P .. ':all', sid)
  if client then redis.call('ZREM', key('client', client), sid) end
end

-- The rate limit: a token bucket in fields rr (rate), rb (burst), rt (tokens), ru (updated).
local function take_token(h, now)
  local f = redis.call('HMGET', h, 'rr', 'rb', 'rt', 'ru')
  if not f[1] or f[1] == '' then return true end
  local rate, burst = tonumber(f[1]), tonumber(f[2])
  local tokens, updated = tonumber(f[3]), tonumber(f[4])
  if now > updated then
    tokens = math.min(burst, tokens + (now - updated) * rate)
    updated = now
  end
  if tokens < 1 then
    redis.call('HSET', h, 'rt', tostring(tokens), 'ru', tostring(updated))
    return false
  end
  redis.call('HSET', h, 'rt', tostring(tokens - 1), 'ru', tostring(updated))
  return true
end
"""
