"""Rooms of the Redis backend: a publish appends to the room's log, once, whatever its size.

A publish is one script that numbers the message with a global counter ``G`` (key ``p:G``),
appends it to the room's log (a stream, entry id ``<G>-0``, fields k, d, z as in a session's
stream and x, the session it excludes) and notifies each process that holds a connection of a
member (``p <room>``, once per process, from the per-room counts ``p:rn:<room>``). Its Redis
work does not depend on how many members the room has.

Each session records, in field ``g`` of its hash, up to which ``G`` its rooms' logs are merged
into its own outgoing stream. Whatever reads or changes the session's outgoing side (the read
of pending messages, a push, a join or leave, the close) first merges what its rooms published
since (``catch_up``), in ``G`` order, numbering each message in the session's sequence and
checking its window: a member without room is closed with 4005 then. Joins and leaves merge
first, so that a member gets exactly what was published while it was in the room.

Keys, for a prefix ``p`` (besides those of :mod:`~realtime.backends.redis.scripts`)::

    p:G              string  the publish counter
    p:log:<room>     stream  the room's last ``retention`` messages
    p:lo:<room>      string  the G of the oldest message the log still has, once it dropped one
                             (a member that has not merged up to it fell behind: 4005)
    p:rn:<room>      hash    process -> how many members' connections it holds
"""

from __future__ import annotations

__all__ = ["CATCH_UP", "ROOM_SCRIPTS"]

RETENTION = "@RETENTION@"
"""Where the scripts' source has the length of the room logs (RedisBackend.room_log_length,
the same on every process)."""

CATCH_UP = """
local MERGE_BATCH = 1000  -- log entries read per room and merge: bounds one script's work
local RETENTION = @RETENTION@

local function g_of(entry) return tonumber(string.match(entry[1], '^(%d+)')) end

-- budget_fits (scripts.py) for a merge's messages: ``held`` and ``total`` as read once before
-- the merge plus what it added so far, ``f`` the session's fields of catch_up.
local function merge_fits(f, held, total, size)
  if held <= 0 then return true end
  local max_client, max_total = tonumber(f[12] or '-1'), tonumber(f[13] or '-1')
  if max_client >= 0 and held + size > max_client then
    return false, "this client address's sessions hold " .. held .. ' bytes (max_client_bytes)'
  end
  if max_total < 0 or total + size <= max_total then return true end
  return false, "the server's sessions hold " .. total .. ' bytes (max_total_bytes)'
end

-- Returns the session's fields st, g, os, oa, ob, mq, mb, cc, cr, ic as they are after the
-- merge, false if the session is unknown.
catch_up = function(sid)
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'st', 'g', 'os', 'oa', 'ob', 'mq', 'mb', 'cc', 'cr', 'ic',
    'ca', 'mc', 'mt')
  if not f[1] then return false end
  if f[1] == '3' then return f end
  local g = tonumber(f[2] or '0')
  local top = tonumber(redis.call('GET', P .. ':G') or '0')
  while g < top do
    local rooms = redis.call('SMEMBERS', key('r', sid))
    if #rooms == 0 then return f end  -- nothing to merge (a join records its G itself)
    local upto, merged = top, {}
    for _, room in ipairs(rooms) do
      -- A log drops messages only once RETENTION more came: look at what it dropped only then.
      if top - g >= RETENTION and tonumber(redis.call('GET', key('lo', room)) or '0') > g + 1 then
        -- what it did not merge yet may be gone from the log: it fell too far behind
        close_session(sid, 4005, 'too many unacknowledged messages', true)
        return redis.call('HMGET', h, 'st', 'g', 'os', 'oa', 'ob', 'mq', 'mb', 'cc', 'cr', 'ic')
      end
      local entries = redis.call('XRANGE', key('log', room), (g + 1) .. '-0', top .. '-0',
        'COUNT', MERGE_BATCH)
      if #entries == MERGE_BATCH and g_of(entries[#entries]) < upto then
        upto = g_of(entries[#entries])
      end
      for _, entry in ipairs(entries) do merged[#merged + 1] = entry end
    end
    if #rooms > 1 then table.sort(merged, function(a, b) return g_of(a) < g_of(b) end) end
    local seq, acked, bytes = tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
    local max_count, max_bytes = tonumber(f[6]), tonumber(f[7])
    local out = key('o', sid)
    local held = tonumber(redis.call('GET', key('mem', f[11] or '')) or '0')
    local total = held > 0 and tonumber(f[13] or '-1') >= 0
      and tonumber(redis.call('GET', P .. ':mem') or '0') or 0
    local added = 0  -- bytes the session's own stream holds more: charged once
    for _, entry in ipairs(merged) do
      local at = g_of(entry)
      if at > upto then break end
      local v = entry[2]  -- k, kind, d, data, z, size, x, excluded session
      if v[8] ~= sid then
        local size = tonumber(v[6])
        local fits, why = has_room(seq - acked, bytes, size, max_count, max_bytes), nil
        if fits then fits, why = merge_fits(f, held + added, total + added, size) end
        if not fits then
          redis.call('HSET', h, 'os', seq, 'ob', bytes, 'g', at)
          charge(h, f[11], added)
          close_session(sid, 4005, why or 'too many unacknowledged messages', true)
          return redis.call('HMGET', h, 'st', 'g', 'os', 'oa', 'ob', 'mq', 'mb', 'cc', 'cr', 'ic')
        end
        seq, bytes, added = seq + 1, bytes + size, added + size
        redis.call('XADD', out, seq .. '-0', 'k', v[2], 'd', v[4], 'z', v[6])
      end
    end
    redis.call('HSET', h, 'os', seq, 'ob', bytes, 'g', upto)
    charge(h, f[11], added)
    g, f[2], f[3], f[5] = upto, upto, seq, bytes
  end
  return f
end
"""

PUBLISH = """
local room, kind, data, size, exclude = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local retention, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local members = key('room', room)
local count = redis.call('SCARD', members)
if count == 0 then return 0 end
if exclude ~= '' and redis.call('SISMEMBER', members, exclude) == 1 then count = count - 1 end
local g = redis.call('INCR', P .. ':G')
local log = key('log', room)
redis.call('XADD', log, g .. '-0', 'k', kind, 'd', data, 'z', size, 'x', exclude)
redis.call('PEXPIRE', log, ttl)
if redis.call('XLEN', log) > retention then
  redis.call('XTRIM', log, 'MAXLEN', retention)
  redis.call('SET', key('lo', room), g_of(redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]),
    'PX', ttl)
end
local nodes = redis.call('HGETALL', key('rn', room))
for i = 1, #nodes, 2 do notify(nodes[i], 'p ' .. room) end  -- once per process
-- Members without a connection are nobody's to read: their window is checked here, so that
-- one without room is closed with 4005 at once (the only part that grows with the room, and
-- only with its members that wait for a connection).
local waiting = key('rw', room)
for _, sid in ipairs(redis.call('SMEMBERS', waiting)) do
  local f = catch_up(sid)
  if not f then  -- its keys are gone (evicted, expired)
    redis.call('SREM', waiting, sid)
    if redis.call('SREM', members, sid) == 1 and sid ~= exclude then count = count - 1 end
  elseif f[1] == '3' and sid ~= exclude then  -- closed for lack of room: not queued for
    count = count - 1
  end
end
return count
"""

PENDING = """
local sid, after, count = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local f = catch_up(sid)
if not f then return {'unknown'} end
local entries = {}
if count ~= 0 and after < tonumber(f[3]) then
  if count > 0 then
    entries = redis.call('XRANGE', key('o', sid), (after + 1) .. '-0', '+', 'COUNT', count)
  else
    entries = redis.call('XRANGE', key('o', sid), (after + 1) .. '-0', '+')
  end
end
return {f[1], f[3], f[4], f[8] or '', f[9] or '', f[10], entries}
"""

JOIN = """
local sid, room = ARGV[2], ARGV[3]
local h = key('s', sid)
catch_up(sid)  -- what the session's rooms published before: not this room's
local f = redis.call('HMGET', h, 'st', 'cc', 'cr', 'cn')
if not f[1] then return {'unknown'} end
if f[1] == '3' then return {'closed', f[2], f[3]} end
redis.call('HSET', h, 'g', redis.call('GET', P .. ':G') or '0')  -- merged up to here
redis.call('SADD', key('room', room), sid)
if redis.call('SADD', key('r', sid), room) == 1 then
  place(room, sid, f[4], 1)
  notify(f[4], 'j ' .. sid .. ' ' .. room)
end
for _, kind in ipairs({'room', 'rn', 'rw'}) do expire_with(key(kind, room), h) end
expire_with(key('r', sid), h)
return {'ok'}
"""

LEAVE = """
local sid, room = ARGV[2], ARGV[3]
catch_up(sid)  -- what the room published while the session was in it
redis.call('SREM', key('room', room), sid)
if redis.call('SREM', key('r', sid), room) == 1 then
  local node = redis.call('HGET', key('s', sid), 'cn')
  place(room, sid, node, -1)
  notify(node, 'l ' .. sid .. ' ' .. room)
end
return 1
"""

CATCH_UP_MANY = """
for i = 2, #ARGV do catch_up(ARGV[i]) end
return 1
"""

ROOM_SCRIPTS = {
    "publish": PUBLISH,
    "pending": PENDING,
    "join": JOIN,
    "leave": LEAVE,
    "catch_up": CATCH_UP_MANY,
}
