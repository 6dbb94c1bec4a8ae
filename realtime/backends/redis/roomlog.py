"""Rooms of the Redis backend: a publish appends to the room's log once, whatever its size.

Every event of a session's outgoing side has a place ``g`` in one global order, from the
counter ``p:G``: a room's message, a direct message (``session.send``), a join, a leave, the
close. A publish is one script: it takes the next ``g``, appends the message to the room's
log (a stream, entry id ``<g>-0``, fields k, d, z as in a session's own log and x, the session
it excludes) and sends it, payload included, once to each process that holds connections of
members (from the per-room counts ``p:rn:<room>``). Its Redis work does not grow with the
room; the process fans the message out to its connections from memory
(:mod:`~realtime.backends.redis.outbox`). Members without a connection are counted by the
publish (their window and byte budget), the only part that grows with the room, and only with
the members that wait for a connection.

A session's messages are, in ``g`` order, those of its own log ``p:o:<sid>`` and those of its
rooms' logs while it was in them: ``p:ri:<sid>`` holds the ``g`` of the join of each room it
is in, ``p:rh:<sid>`` the past memberships (``<join>:<leave>`` pairs) not yet behind its
checkpoint. Its checkpoint, fields ``oa`` and ``og`` of its hash, says that its messages up to
``og`` are its messages 1 to ``oa``; ``collect`` lists those after it, so that any process
numbers them alike. A log keeps ``retention`` messages; a session whose checkpoint is behind
what a log of its rooms dropped cannot be numbered any more and ends with 4004 (where its
process numbered them as they came, it goes on: only a resume elsewhere needs the logs).

Keys, for a prefix ``p`` (besides those of :mod:`~realtime.backends.redis.scripts`)::

    p:G              string  the counter of the global order
    p:log:<room>     stream  the room's last ``retention`` messages
    p:rn:<room>      hash    process -> how many members' connections it holds
    p:rw:<room>      set     members without a connection
    p:ri:<sid>       hash    room -> g of the join, for the session's rooms
    p:rh:<sid>       hash    room -> past memberships "j:l j:l", after the checkpoint
"""

from __future__ import annotations

__all__ = ["COLLECT", "RETENTION", "ROOM_SCRIPTS"]

RETENTION = "@RETENTION@"
"""Where the scripts' source has the length of the room logs (RedisBackend.room_log_length,
the same on every process)."""

COLLECT = """
local RETENTION = @RETENTION@

-- The session's memberships: {room, join, leave or nil} each.
local function memberships(sid)
  local out = {}
  local open = redis.call('HGETALL', key('ri', sid))
  for i = 1, #open, 2 do out[#out + 1] = {open[i], tonumber(open[i + 1]), nil} end
  local past = redis.call('HGETALL', key('rh', sid))
  for i = 1, #past, 2 do
    for j, l in string.gmatch(past[i + 1], '(%d+):(%d+)') do
      out[#out + 1] = {past[i], tonumber(j), tonumber(l)}
    end
  end
  return out
end

-- Whether a log dropped messages from ``lo`` on: it keeps the newest RETENTION; once it
-- dropped some, those before its first are gone. (A session whose checkpoint is between the
-- last one dropped and the first kept has RETENTION messages unacknowledged: behind too.)
local function dropped_from(log, lo)
  if redis.call('XLEN', log) < RETENTION then return false end  -- it never dropped any
  local info = redis.call('XINFO', 'STREAM', log)
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if tonumber(fields['entries-added']) <= tonumber(fields['length']) then return false end
  return g_of(fields['recorded-first-entry-id']) > lo
end

-- The session's messages with g in (og, upto], in g order: {g, kind, data, size, from a
-- room} each. nil when a log of its rooms dropped some of them.
local function collect(sid, og, upto)
  local merged, sources = {}, 0
  local function read(stream, lo, hi, room)
    local entries = redis.call('XRANGE', stream, lo .. '-0', hi .. '-0')
    if #entries > 0 then sources = sources + 1 end
    for _, e in ipairs(entries) do
      local v = e[2]  -- k, kind, d, data, z, size[, x, excluded session]
      if v[8] ~= sid then merged[#merged + 1] = {g_of(e[1]), v[2], v[4], tonumber(v[6]), room} end
    end
  end
  if og < upto then read(key('o', sid), og + 1, upto, false) end
  for _, m in ipairs(memberships(sid)) do
    local lo = math.max(og, m[2]) + 1
    local hi = m[3] and math.min(m[3], upto) or upto
    if lo <= hi then
      local log = key('log', m[1])
      if dropped_from(log, lo) then return nil end
      read(log, lo, hi, true)
    end
  end
  if sources > 1 then table.sort(merged, function(a, b) return a[1] < b[1] end) end
  return merged
end

-- Number the messages ``entries`` (from collect) after the checkpoint's ``acked``; the client
-- holds those up to ``last``. Returns the g of message ``last`` (``og`` if it is the
-- checkpoint's), the messages after ``last`` as {seq, g, kind, data, size, direct}, their
-- count and bytes, and the g of the first room message that finds the window full (nil: none).
local function number(entries, acked, og, last, mq, mb)
  local last_g, after, count, bytes = og, {}, 0, 0
  for i, e in ipairs(entries) do
    local seq = acked + i
    if seq <= last then
      last_g = e[1]
    else
      if e[5] and not has_room(count, bytes, e[4], mq, mb) then
        return last_g, after, count, bytes, e[1]
      end
      count, bytes = count + 1, bytes + e[4]
      after[#after + 1] = {seq, e[1], e[2], e[3], e[4], e[5] and 0 or 1}
    end
  end
  return last_g, after, count, bytes, nil
end

-- Up to which g the session's messages go: before its close, or every one so far.
local function upto_of(cg)
  if cg then return tonumber(cg) - 1 end
  return top_g()
end
"""

PUBLISH = """
local room, kind, data, size, exclude = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local retention, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local members = key('room', room)
local count = redis.call('SCARD', members)
if count == 0 then return 0 end
if exclude ~= '' and redis.call('SISMEMBER', members, exclude) == 1 then count = count - 1 end
local g = next_g()
local log = key('log', room)
redis.call('XADD', log, 'MAXLEN', retention, g .. '-0', 'k', kind, 'd', data, 'z', size,
  'x', exclude)
redis.call('PEXPIRE', log, ttl)
local nodes = redis.call('HKEYS', key('rn', room))
if #nodes > 0 then  -- once per process, payload included
  local note = 'p ' .. g .. ' ' .. kind .. ' ' .. size .. ' ' .. (exclude ~= '' and exclude or '.')
    .. ' ' .. string.len(room) .. '\\n' .. room .. data
  for _, node in ipairs(nodes) do redis.call('PUBLISH', P .. ':ch:' .. node, note) end
end
-- Members without a connection are nobody's to count: their window and budget are checked
-- here, so that one without room is closed with 4005 at once.
local waiting = key('rw', room)
for _, sid in ipairs(redis.call('SMEMBERS', waiting)) do
  if sid ~= exclude then
    local h = key('s', sid)
    local f = redis.call('HMGET', h, 'st', 'ua', 'ub', 'mq', 'mb', 'ca', 'mc', 'mt')
    if not f[1] then  -- its keys are gone (evicted, expired)
      redis.call('SREM', waiting, sid)
      if redis.call('SREM', members, sid) == 1 then count = count - 1 end
    else
      local fits, why = has_room(tonumber(f[2]), tonumber(f[3]), size, tonumber(f[4]),
        tonumber(f[5])), nil
      if fits then fits, why = budget_fits({f[6], f[7], f[8]}, size) end
      if fits then
        redis.call('HINCRBY', h, 'ua', 1)
        redis.call('HINCRBY', h, 'ub', size)
        redis.call('HINCRBY', h, 'wb', size)
        charge(h, f[6], size)
      else
        close_session(sid, 4005, why or BUFFER_OVERFLOW, g)
        count = count - 1
      end
    end
  end
end
return count
"""

JOIN = """
local sid, room = ARGV[2], ARGV[3]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'cc', 'cr', 'cn')
if not f[1] then return {'unknown'} end
if f[1] == '3' then return {'closed', f[2], f[3]} end
if redis.call('SADD', key('r', sid), room) == 1 then
  local g = next_g()
  redis.call('HSET', key('ri', sid), room, g)
  redis.call('SADD', key('room', room), sid)
  place(room, sid, f[4], 1, h)
  notify(f[4], 'j ' .. g .. ' ' .. sid .. ' ' .. room)
  expire_with(key('room', room), h)
  expire_with(key('r', sid), h)
  expire_with(key('ri', sid), h)
end
return {'ok'}
"""

LEAVE = """
local sid, room = ARGV[2], ARGV[3]
local h = key('s', sid)
redis.call('SREM', key('room', room), sid)
if redis.call('SREM', key('r', sid), room) == 1 then
  local g = next_g()
  local joined = redis.call('HGET', key('ri', sid), room)
  redis.call('HDEL', key('ri', sid), room)
  if joined then
    local past = key('rh', sid)
    local before = redis.call('HGET', past, room)
    redis.call('HSET', past, room, (before and before .. ' ' or '') .. joined .. ':' .. g)
    redis.call('HSET', h, 'rh', 1)
    expire_with(past, h)
  end
  local node = redis.call('HGET', h, 'cn')
  place(room, sid, node, -1)
  notify(node, 'l ' .. g .. ' ' .. sid .. ' ' .. room)
end
return 1
"""

ROOM_SCRIPTS = {"publish": PUBLISH, "join": JOIN, "leave": LEAVE}
