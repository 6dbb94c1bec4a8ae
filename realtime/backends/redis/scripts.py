"""The Lua scripts of the Redis backend: one per state change, each atomic.

They mirror :class:`realtime.protocol.session.SessionState` operation for operation; the
backend contract tests hold both to the same answers. Every script starts with ``PRELUDE``
and takes the key prefix as ``ARGV[1]``. Keys are built inside the scripts, so the backend
needs a single Redis (or a primary with replicas), not a Redis Cluster.

Keys, for a prefix ``p``::

    p:s:<sid>        hash    the session: info (JSON), st (status), since, seen, tr, cid, cn
                             (connection id and node), os/oa/ob (outgoing: last seq, acked,
                             unacked bytes), ir/ic/ib (incoming: received, consumed, inbox
                             bytes), mq/mb (limits, -1 for none), rr/rb/rt/ru (rate limit:
                             rate, burst, tokens, updated), ca (client address), cc/cr
                             (close), hs/hn (handler state and node), w (process of a
                             sender waiting for room in the window)
    p:o:<sid>        stream  unacknowledged outgoing messages; entry id <seq>-0, fields
                             k (t text, b bytes), d (data), z (size)
    p:i:<sid>        stream  received messages the handler has not read; same layout
    p:r:<sid>        set     the session's rooms
    p:room:<name>    set     a room's sessions
    p:waiting        zset    sessions without a connection, by when they lost it
    p:closing        set     closed sessions the reaper has not seen yet
    p:closed         zset    closed sessions, by when the reaper first saw them
    p:all            zset    every session, by creation (to count them)
    p:client:<addr>  zset    the sessions negotiated from one client address
    p:nodes          set     live processes; p:node:<id> is each one's heartbeat (with a TTL)

Every key of a session (s, o, i, r), every room's set, and each process's conns/handlers
sets have a TTL from their creation (``key_ttl``; pushed back by the processes serving them);
the shared indexes (waiting, closing, closed, all, client:<addr>, nodes) have none, and drop a
session whose keys are gone when the reaper meets it or when a cap is reached (``below``).
    p:conns:<node>   set     sessions whose connection a process holds
    p:handlers:<node> set    sessions whose handler a process runs
    p:ch:<node>      channel notifications for a process: "p <room>" or
                             "o|r|c|i|k|x|t|j|l <sid> [<arg>]"

The rooms' own keys (their logs, the publish counter, where their members are) are those of
:mod:`~realtime.backends.redis.roomlog`; field g of a session's hash is up to which publish its
rooms' logs are merged into its stream p:o:<sid>.
"""

from __future__ import annotations

from realtime.backends.redis.roomlog import CATCH_UP, ROOM_SCRIPTS

__all__ = ["SCRIPTS"]

# Handler states (hs): 0 never started, 1 running, 2 finished, 3 released unfinished.
PRELUDE = """
local P = ARGV[1]
local function key(kind, id) return P .. ':' .. kind .. ':' .. id end
local catch_up  -- defined by CATCH_UP (roomlog.py), used by close_session

-- Where a member of a room is, for a publish (roomlog.py): counted, in p:rn:<room>, among the
-- members whose connection the process ``node`` holds, or, without a connection, in the set
-- p:rw:<room>. ``delta`` 1 puts it there, -1 takes it out.
local function place(room, sid, node, delta)
  if not node or node == '' then
    if delta > 0 then redis.call('SADD', key('rw', room), sid)
    else redis.call('SREM', key('rw', room), sid) end
    return
  end
  local counts = key('rn', room)
  if redis.call('HINCRBY', counts, node, delta) <= 0 then redis.call('HDEL', counts, node) end
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

-- Give ``k`` the TTL of the session's hash ``h`` if it has a shorter one (or none).
local function expire_with(k, h)
  local ttl = redis.call('PTTL', h)
  if ttl > 0 and redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
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

-- End the session. Unless ``quick``, what its rooms published before is queued first, so that
-- it is sent before the close.
local function close_session(sid, code, reason, quick)
  local h = key('s', sid)
  if not quick then catch_up(sid) end
  local f = redis.call('HMGET', h, 'st', 'hn', 'cn', 'w')
  if not f[1] or f[1] == '3' then return 0 end
  redis.call('HSET', h, 'st', '3', 'cc', code, 'cr', reason)
  redis.call('ZREM', P .. ':waiting', sid)
  redis.call('SADD', P .. ':closing', sid)
  local rooms = key('r', sid)
  for _, room in ipairs(redis.call('SMEMBERS', rooms)) do
    redis.call('SREM', key('room', room), sid)
    place(room, sid, f[3], -1)
  end
  redis.call('DEL', rooms)
  notify(f[2], 'c ' .. sid)
  if f[3] ~= f[2] then notify(f[3], 'c ' .. sid) end
  if f[4] and f[4] ~= f[2] and f[4] ~= f[3] then notify(f[4], 'c ' .. sid) end
  return 1
end

-- Queue an outgoing message: its number, 0 when the window is full, -1 closed, -2 unknown,
-- -3 (and why) when the address's or the server's byte budget is; and notify the process
-- holding the session's connection. What the session's rooms published before is queued
-- first (publish order). A full window remembers ``waiter``, the process of a
-- sender that will wait for acknowledgements, so that only then does an ack notify.
local function push(sid, kind, data, size, waiter)
  local h = key('s', sid)
  catch_up(sid)
  local f = redis.call('HMGET', h, 'st', 'os', 'oa', 'ob', 'mq', 'mb', 'cn', 'ca', 'mc', 'mt')
  if not f[1] then return -2 end
  if f[1] == '3' then return -1 end
  local seq, acked, bytes = tonumber(f[2]), tonumber(f[3]), tonumber(f[4])
  if not has_room(seq - acked, bytes, size, tonumber(f[5]), tonumber(f[6])) then
    if waiter then redis.call('HSET', h, 'w', waiter) end
    return 0
  end
  local fits, why = budget_fits({f[8], f[9], f[10]}, size)
  if not fits then return -3, why end
  charge(h, f[8], size)
  seq = seq + 1
  redis.call('HSET', h, 'os', seq, 'ob', bytes + size)
  redis.call('XADD', key('o', sid), seq .. '-0', 'k', kind, 'd', data, 'z', size)
  notify(f[7], 'o ' .. sid)
  return seq
end

local function ack(sid, seq)
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'oa', 'w', 'ca')
  local acked = tonumber(f[1])
  if seq <= acked then return 0 end
  local freed = 0
  for _, entry in ipairs(redis.call('XRANGE', key('o', sid), '-', seq .. '-0')) do
    freed = freed + size_of(entry[2])
  end
  redis.call('XTRIM', key('o', sid), 'MINID', (seq + 1) .. '-0')
  redis.call('HSET', h, 'oa', seq)
  redis.call('HINCRBY', h, 'ob', 0 - freed)  -- not -freed: Lua's -0 is no integer to Redis
  charge(h, f[3], 0 - freed)
  if f[2] then  -- a sender waits for room
    redis.call('HDEL', h, 'w')
    notify(f[2], 'k ' .. sid)
  end
  return seq - acked
end

local function forget(sid)
  local f = redis.call('HMGET', key('s', sid), 'ca', 'ob', 'ib')
  local client = f[1]
  if f[2] then charge(key('s', sid), client, 0 - tonumber(f[2]) - tonumber(f[3])) end
  redis.call('DEL', key('s', sid), key('o', sid), key('i', sid), key('r', sid))
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

CREATE = """
local sid, now, ttl, client = ARGV[2], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local max_all, max_client = tonumber(ARGV[11]), tonumber(ARGV[12])
local h = key('s', sid)
if redis.call('EXISTS', h) == 1 then return 'exists' end
if max_all >= 0 and not below(P .. ':all', max_all) then return 'server full' end
if client ~= '' and max_client >= 0 and not below(key('client', client), max_client) then
  return 'client full'
end
redis.call('HSET', h, 'info', ARGV[3], 'mq', ARGV[4], 'mb', ARGV[5], 'st', '0',
  'mc', ARGV[13], 'mt', ARGV[14], 'since', now, 'seen', now, 'os', 0, 'oa', 0, 'ob', 0,
  'ir', 0, 'ic', 0, 'ib', 0, 'hs', '0', 'g', redis.call('GET', P .. ':G') or '0')
if ARGV[9] ~= '' then
  redis.call('HSET', h, 'rr', ARGV[9], 'rb', ARGV[10], 'rt', ARGV[10], 'ru', now)
end
if client ~= '' then
  redis.call('HSET', h, 'ca', client)
  redis.call('ZADD', key('client', client), now, sid)
end
redis.call('PEXPIRE', h, ttl)
for _, kind in ipairs({'o', 'i'}) do  -- both streams exist from now on, with their TTL
  local stream = key(kind, sid)
  redis.call('XADD', stream, '0-1', 'z', '0')
  redis.call('XDEL', stream, '0-1')
  redis.call('PEXPIRE', stream, ttl)
end
redis.call('ZADD', P .. ':waiting', now, sid)
redis.call('ZADD', P .. ':all', now, sid)
return 'created'
"""

ATTACH = """
local sid, cid, node, transport = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local last, now, ttl = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'os', 'oa', 'ic', 'cid', 'cn', 'hn')
if not f[1] then return {'unknown'} end
local seq, acked = tonumber(f[2]), tonumber(f[3])
if last < acked then return {'gap', tostring(acked + 1)} end
if last > seq then return {'protocol', tostring(seq)} end
ack(sid, last)
redis.call('HSET', h, 'cid', cid, 'cn', node, 'tr', transport, 'seen', now)
if f[1] ~= '3' then
  redis.call('HSET', h, 'st', '1', 'since', now)
  redis.call('ZREM', P .. ':waiting', sid)
end
redis.call('SADD', key('conns', node), sid)
redis.call('PEXPIRE', key('conns', node), ttl)
local rooms = redis.call('SMEMBERS', key('r', sid))
if f[6] ~= node then
  for _, room in ipairs(rooms) do
    place(room, sid, f[6], -1)
    place(room, sid, node, 1)
    expire_with(key('rn', room), h)
  end
end
if f[6] and f[6] ~= node then
  redis.call('SREM', key('conns', f[6]), sid)
  if f[5] then notify(f[6], 'x ' .. sid .. ' ' .. f[5]) end
end
for _, k in ipairs({h, key('o', sid), key('i', sid), key('r', sid)}) do
  redis.call('PEXPIRE', k, ttl)
end
if f[7] and f[7] ~= node then notify(f[7], 't ' .. sid .. ' ' .. transport) end
return {'ok', f[4], f[5] or '', f[1] == '0' and 1 or 0, rooms}
"""

DETACH = """
local sid, cid, node, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'cid', 'st', 'cn')
if not f[2] then  -- its keys are gone (evicted, expired): out of the rooms it was known in here
  for i = 6, #ARGV do
    if redis.call('SREM', key('room', ARGV[i]), sid) == 1 then place(ARGV[i], sid, node, -1) end
  end
  return 0
end
if f[1] ~= cid then return 0 end
catch_up(sid)  -- nobody reads it while it waits: what came so far is checked now
f[2] = redis.call('HGET', h, 'st')  -- closed (4005) if it had no room
for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
  place(room, sid, f[3], -1)
  place(room, sid, nil, 1)
  expire_with(key('rw', room), h)
end
redis.call('HDEL', h, 'cid', 'cn')
redis.call('SREM', key('conns', node), sid)
if f[2] ~= '3' then
  redis.call('HSET', h, 'st', '2', 'since', now)
  redis.call('ZADD', P .. ':waiting', now, sid)
end
return 1
"""

TOUCH = """
local h = key('s', ARGV[2])
if redis.call('EXISTS', h) == 1 then redis.call('HSET', h, 'seen', ARGV[3]) end
return 1
"""

PUSH = """
return push(ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6])
"""

OFFER = """
local sid = ARGV[2]
local seq, why = push(sid, ARGV[3], ARGV[4], tonumber(ARGV[5]))
if seq == 0 or seq == -3 then
  close_session(sid, 4005, why or 'too many unacknowledged messages')
end
return seq > 0 and 1 or 0
"""


ACK = """
local sid, seq = ARGV[2], tonumber(ARGV[3])
local last = redis.call('HGET', key('s', sid), 'os')
if not last then return -2 end
if seq > tonumber(last) then return -1 end
return ack(sid, seq)
"""

DELIVER = """
local sid, seq, kind, data, size = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'ir', 'ic', 'ib', 'mq', 'mb', 'hn', 'cc', 'cr',
  'ca', 'mc', 'mt')
if not f[1] then return {'unknown'} end
if f[1] == '3' then return {'closed', f[8], f[9]} end
local received, consumed, bytes = tonumber(f[2]), tonumber(f[3]), tonumber(f[4])
if seq <= received then return {'ok', tostring(consumed)} end
if seq ~= received + 1 then return {'gap', tostring(received)} end
if not take_token(h, tonumber(ARGV[7])) then return {'rate'} end
if not has_room(received - consumed, bytes, size, tonumber(f[5]), tonumber(f[6])) then
  return {'full'}
end
local fits, why = budget_fits({f[10], f[11], f[12]}, size)
if not fits then return {'budget', why} end
charge(h, f[10], size)
redis.call('XADD', key('i', sid), seq .. '-0', 'k', kind, 'd', data, 'z', size)
redis.call('HSET', h, 'ir', seq, 'ib', bytes + size)
notify(f[7], 'i ' .. sid)
return {'ok', tostring(consumed)}
"""

TAKE = """
local sid = ARGV[2]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'ir', 'ic', 'cc', 'cr', 'cn', 'ca')
if not f[1] then return {'unknown'} end
local received, consumed = tonumber(f[2]), tonumber(f[3])
if consumed < received then
  local id = (consumed + 1) .. '-0'
  local entry = redis.call('XRANGE', key('i', sid), id, id)[1]
  redis.call('XDEL', key('i', sid), id)
  local fields = entry[2]
  local kind, data = '', ''
  for i = 1, #fields, 2 do
    if fields[i] == 'k' then kind = fields[i + 1] end
    if fields[i] == 'd' then data = fields[i + 1] end
  end
  redis.call('HSET', h, 'ic', consumed + 1)
  redis.call('HINCRBY', h, 'ib', 0 - size_of(fields))
  charge(h, f[7], 0 - size_of(fields))
  notify(f[6], 'r ' .. sid)
  return {'msg', kind, data}
end
if f[1] == '3' then return {'closed', f[4], f[5]} end
return {'empty'}
"""

CLOSE = """
return close_session(ARGV[2], ARGV[3], ARGV[4])
"""


CLAIM = """
local sid, node = ARGV[2], ARGV[3]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'hs')
if not f[1] or f[1] == '3' then return '' end
if f[2] ~= '0' and f[2] ~= '3' then return '' end
redis.call('HSET', h, 'hs', '1', 'hn', node)
redis.call('SADD', key('handlers', node), sid)
expire_with(key('handlers', node), h)
return f[2] == '0' and 'start' or 'restart'
"""

RELEASE = """
local sid, node, finished = ARGV[2], ARGV[3], ARGV[4]
local h = key('s', sid)
redis.call('SREM', key('handlers', node), sid)
if redis.call('HGET', h, 'hn') ~= node then return 0 end
redis.call('HSET', h, 'hs', finished == '1' and '2' or '3')
return 1
"""

EXPIRE = """
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local limit = now - ttl
local expired = {}
local waiting = redis.call('ZRANGEBYSCORE', P .. ':waiting', '-inf', limit, 'LIMIT', 0, 1000)
for _, sid in ipairs(waiting) do
  local f = redis.call('HMGET', key('s', sid), 'st', 'since')
  if (f[1] == '0' or f[1] == '2') and tonumber(f[2]) <= limit then
    close_session(sid, 4000, 'no connection for too long', true)
    redis.call('SREM', P .. ':closing', sid)
    redis.call('ZADD', P .. ':closed', limit, sid)  -- its client is long gone: forget it at once
    table.insert(expired, sid)
  else
    redis.call('ZREM', P .. ':waiting', sid)
    if not f[1] then redis.call('ZREM', P .. ':all', sid) end  -- its keys are gone already
  end
end
for _, sid in ipairs(redis.call('SMEMBERS', P .. ':closing')) do
  redis.call('ZADD', P .. ':closed', 'NX', now, sid)
end
redis.call('DEL', P .. ':closing')
local old = redis.call('ZRANGEBYSCORE', P .. ':closed', '-inf', limit, 'LIMIT', 0, 1000)
for _, sid in ipairs(old) do
  local f = redis.call('HMGET', key('s', sid), 'hs', 'cid')
  if f[1] ~= '1' and not f[2] then forget(sid) end
end
return expired
"""

REAP_NODE = """
local node, now = ARGV[2], ARGV[3]
if redis.call('EXISTS', key('node', node)) == 1 then return {} end  -- it beat meanwhile
for _, sid in ipairs(redis.call('SMEMBERS', key('conns', node))) do
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'cn', 'st')
  if f[1] == node then
    catch_up(sid)
    f[2] = redis.call('HGET', h, 'st')  -- closed (4005) if it had no room
    for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
      place(room, sid, node, -1)
      place(room, sid, nil, 1)
      expire_with(key('rw', room), h)
    end
    redis.call('HDEL', h, 'cid', 'cn')
    if f[2] ~= '3' then
      redis.call('HSET', h, 'st', '2', 'since', now)
      redis.call('ZADD', P .. ':waiting', now, sid)
    end
  end
end
local orphans = {}
for _, sid in ipairs(redis.call('SMEMBERS', key('handlers', node))) do
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'hn', 'hs', 'st')
  if f[1] == node and f[2] == '1' then
    redis.call('HSET', h, 'hs', '3')
    if f[3] ~= '3' then table.insert(orphans, sid) end
  end
end
redis.call('DEL', key('conns', node), key('handlers', node))
redis.call('SREM', P .. ':nodes', node)
return orphans
"""

REFRESH = """
-- Push back the TTL of the keys of the sessions ARGV[4..] (those this process serves), of
-- their rooms' member sets and of this process's sets.
local ttl, node = tonumber(ARGV[2]), ARGV[3]
for i = 4, #ARGV do
  local sid = ARGV[i]
  if redis.call('PEXPIRE', key('s', sid), ttl) == 1 then
    redis.call('PEXPIRE', key('o', sid), ttl)
    redis.call('PEXPIRE', key('i', sid), ttl)
    redis.call('PEXPIRE', key('r', sid), ttl)
    redis.call('PEXPIRE', key('mem', redis.call('HGET', key('s', sid), 'ca') or ''), ttl)
    for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
      for _, kind in ipairs({'room', 'log', 'rn', 'rw', 'lo'}) do
        redis.call('PEXPIRE', key(kind, room), ttl)
      end
    end
  end
end
redis.call('PEXPIRE', key('conns', node), ttl)
redis.call('PEXPIRE', key('handlers', node), ttl)
redis.call('PEXPIRE', P .. ':mem', ttl)
return 1
"""

SCRIPTS: dict[str, str] = {
    name: PRELUDE + CATCH_UP + body
    for name, body in {
        **ROOM_SCRIPTS,
        "create": CREATE,
        "attach": ATTACH,
        "detach": DETACH,
        "touch": TOUCH,
        "push": PUSH,
        "offer": OFFER,
        "ack": ACK,
        "deliver": DELIVER,
        "take": TAKE,
        "close": CLOSE,
        "claim": CLAIM,
        "release": RELEASE,
        "expire": EXPIRE,
        "reap_node": REAP_NODE,
        "refresh": REFRESH,
    }.items()
}
