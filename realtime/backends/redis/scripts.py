"""The Lua scripts of the Redis backend: one per state change, each atomic.

They mirror :class:`realtime.protocol.session.SessionState` operation for operation; the
backend contract tests hold both to the same answers. Every script starts with the functions
it calls of the :mod:`~realtime.backends.redis.prelude` and of the logs' merge (``COLLECT``,
:mod:`~realtime.backends.redis.roomlog`), :mod:`~realtime.backends.redis.lua` picks them, and
takes the key prefix as ``ARGV[1]``. Keys are
built inside the scripts, so the backend needs a single Redis (or a primary with replicas),
not a Redis Cluster.

Keys, for a prefix ``p``::

    p:s:<sid>        hash    the session: info (JSON), st (status), since, seen, tr, cid, cn
                             (connection id and node), oa/og (outgoing checkpoint: message oa
                             is the last up to g og), ua/ub (unacknowledged messages and
                             bytes, as last counted: the window of a sender), ob (bytes of the
                             own log, charged to the budgets), wb (bytes of room messages
                             charged while waiting for a connection), cg (the g of the close),
                             ir/ic/ib (incoming: received, consumed, inbox bytes), mq/mb
                             (limits, -1 for none), rr/rb/rt/ru (rate limit: rate, burst,
                             tokens, updated), ca (client address), cc/cr (close), hs/hn
                             (handler state and node), w (process of a sender waiting for room
                             in the window)
    p:o:<sid>        stream  the session's own log: direct messages after its checkpoint;
                             entry id <g>-0, fields k (t text, b bytes, e event), d (data),
                             z (size)
    p:i:<sid>        stream  received messages the handler has not read; entry id <seq>-0
    p:r:<sid>        set     the session's rooms
    p:room:<name>    set     a room's sessions
    p:waiting        zset    sessions without a connection, by when they lost it
    p:closing        set     closed sessions the reaper has not seen yet
    p:closed         zset    closed sessions, by when the reaper first saw them
    p:all            zset    every session, by creation (to count them)
    p:client:<addr>  zset    the sessions negotiated from one client address
    p:nodes          set     live processes; p:node:<id> is each one's heartbeat (with a TTL)
    p:conns:<node>   set     sessions whose connection a process holds
    p:handlers:<node> set    sessions whose handler a process runs
    p:ch:<node>      channel notifications for a process (notifier.py)

Every key of a session, every room's keys, and each process's conns/handlers sets have a TTL
from their creation (``key_ttl``; pushed back by the processes serving them); the shared
indexes (waiting, closing, closed, all, client:<addr>, nodes) have none, and drop a session
whose keys are gone when the reaper meets it or when a cap is reached (``below``).
"""

from __future__ import annotations

from realtime.backends.redis.lua import compose
from realtime.backends.redis.prelude import PRELUDE
from realtime.backends.redis.roomlog import COLLECT, ROOM_SCRIPTS

__all__ = ["SCRIPTS"]

# Handler states (hs): 0 never started, 1 running, 2 finished, 3 released unfinished.

PUSH_FUNCTION = """
-- Queue a direct message: 1, 0 when the window is full, -1 closed, -2 unknown, -3 (and why)
-- when the address's or the server's byte budget is; and send it to the process holding the
-- session's connection. A full window remembers ``waiter``, the process of a sender that
-- will wait, and tells the connection's process to write its acknowledgements soon.
local function push(sid, kind, data, size, waiter)
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'st', 'ua', 'ub', 'mq', 'mb', 'cn', 'ca', 'mc', 'mt')
  if not f[1] then return -2 end
  if f[1] == '3' then return -1 end
  if not has_room(tonumber(f[2]), tonumber(f[3]), size, tonumber(f[4]), tonumber(f[5])) then
    if waiter then
      redis.call('HSET', h, 'w', waiter)
      notify(f[6], 'w ' .. sid)
    end
    return 0
  end
  local fits, why = budget_fits({f[7], f[8], f[9]}, size)
  if not fits then return -3, why end
  charge(h, f[7], size)
  local g = next_g()
  redis.call('XADD', key('o', sid), g .. '-0', 'k', kind, 'd', data, 'z', size)
  redis.call('HINCRBY', h, 'ua', 1)
  redis.call('HINCRBY', h, 'ub', size)
  redis.call('HINCRBY', h, 'ob', size)
  redis.call('HINCRBY', h, 'on', 1)
  notify(f[6], 'o ' .. g .. ' ' .. sid .. ' ' .. kind .. ' ' .. size .. '\\n' .. data)
  return 1
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
  'mc', ARGV[13], 'mt', ARGV[14], 'since', now, 'seen', now, 'oa', 0, 'og', top_g(),
  'ua', 0, 'ub', 0, 'ob', 0, 'on', 0, 'wb', 0, 'ir', 0, 'ic', 0, 'ib', 0, 'hs', '0')
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
-- Attach a connection that holds the messages up to ``last``: the checkpoint moves there, and
-- the answer is what the process needs to number what comes next (notifier.py, outbox.py).
-- ARGV[9..10]: the checkpoint the attaching process holds in memory (0 0: none), which may be
-- newer than the one written.
local sid, cid, node, transport = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local last, now, ttl = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'oa', 'og', 'ic', 'cid', 'cn', 'hn', 'cg', 'mq', 'mb',
  'ca', 'wb', 'hs')
if not f[1] then return {'unknown'} end
local acked, og = tonumber(f[2]), tonumber(f[3])
if tonumber(ARGV[9]) > acked then  -- acknowledged in this process, not written yet
  acked, og = tonumber(ARGV[9]), tonumber(ARGV[10])
  checkpoint(sid, h, acked, og, f[11])
end
if last < acked then return {'gap', tostring(acked + 1)} end
local top = top_g()
local entries = collect(sid, og, upto_of(f[8]))
if not entries then return {'gap', tostring(acked + 1)} end  -- a room's log dropped some
if last > acked + #entries then return {'protocol', tostring(acked + #entries)} end
local mq, mb = tonumber(f[9]), tonumber(f[10])
local last_g, after, count, bytes, over = number(entries, acked, og, last, mq, mb)
if over then close_session(sid, 4005, BUFFER_OVERFLOW, over) end
if last > acked then checkpoint(sid, h, last, last_g, f[11]) end
redis.call('HSET', h, 'ua', count, 'ub', bytes, 'cid', cid, 'cn', node, 'tr', transport,
  'seen', now)
local waited = tonumber(f[12] or '0')
if waited > 0 then  -- room messages counted while it waited: this process counts them now
  redis.call('HSET', h, 'wb', 0)
  charge(h, f[11], 0 - waited)
end
local st = redis.call('HGET', h, 'st')
if st ~= '3' then
  redis.call('HSET', h, 'st', '1', 'since', now)
  redis.call('ZREM', P .. ':waiting', sid)
end
redis.call('SADD', key('conns', node), sid)
redis.call('PEXPIRE', key('conns', node), ttl)
local rooms = redis.call('SMEMBERS', key('r', sid))
if f[6] ~= node then
  for _, room in ipairs(rooms) do
    place(room, sid, f[6], -1)
    place(room, sid, node, 1, h)
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
local close = redis.call('HMGET', h, 'cg', 'cc', 'cr')
local flat = {}
for _, m in ipairs(after) do
  for _, v in ipairs(m) do flat[#flat + 1] = v end
end
return {'ok', f[4], f[5] or '', f[1] == '0' and 1 or 0, tostring(top), last_g,
  redis.call('HGETALL', key('ri', sid)), close[1] and close or {}, flat, f[9], f[10],
  (f[13] == '1' and f[7] ~= node) and 1 or 0}
"""

REATTACH = """
-- The next poll of a long-poll whose session stayed attached here (outgoing.py): it takes the
-- connection over, if nobody else did meanwhile.
local sid, old, cid, node, transport, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'cid', 'cn', 'ic', 'hn', 'hs')
if f[1] ~= old or f[2] ~= node then return {'moved'} end
redis.call('HSET', h, 'cid', cid, 'tr', transport, 'seen', now)
if f[4] and f[4] ~= node then notify(f[4], 't ' .. sid .. ' ' .. transport) end
return {'ok', f[3], (f[5] == '1' and f[4] ~= node) and 1 or 0}
"""

DETACH = """
local sid, cid, node, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'cid', 'st', 'cn', 'oa', 'ca')
if not f[2] then  -- its keys are gone (evicted, expired): out of the rooms it was known in here
  for i = 10, #ARGV do
    if redis.call('SREM', key('room', ARGV[i]), sid) == 1 then place(ARGV[i], sid, node, -1) end
  end
  return 0
end
if f[1] ~= cid then return 0 end
if ARGV[6] ~= '' then  -- what this process counted: acknowledged, and waiting for it
  if tonumber(ARGV[6]) > tonumber(f[4]) then
    checkpoint(sid, h, tonumber(ARGV[6]), tonumber(ARGV[7]), f[5])
  end
  redis.call('HSET', h, 'ua', ARGV[8], 'ub', ARGV[9])
end
for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
  place(room, sid, f[3], -1)
  place(room, sid, nil, 1, h)
end
redis.call('HDEL', h, 'cid', 'cn')
redis.call('SREM', key('conns', node), sid)
if f[2] ~= '3' then
  redis.call('HSET', h, 'st', '2', 'since', now)
  redis.call('ZADD', P .. ':waiting', now, sid)
end
return 1
"""

FLUSH = """
-- Checkpoints of sessions whose connection this process (ARGV[2]) holds, as it counted them:
-- groups of sid, acked, its g, unacknowledged messages and bytes. Returns the sessions whose
-- connection it does not hold any more (nothing written for them).
local node, moved = ARGV[2], {}
for i = 3, #ARGV, 5 do
  local sid = ARGV[i]
  local seq, g, count, bytes = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3],
    ARGV[i + 4]
  local h = key('s', sid)
  local f = redis.call('HMGET', h, 'cn', 'oa', 'ca', 'w', 'mq', 'mb')
  if f[1] == node then
    if seq > tonumber(f[2]) then checkpoint(sid, h, seq, g, f[3]) end
    redis.call('HSET', h, 'ua', count, 'ub', bytes)
    if f[4] and has_room(tonumber(count), tonumber(bytes), 0, tonumber(f[5]), tonumber(f[6])) then
      redis.call('HDEL', h, 'w')
      notify(f[4], 'k ' .. sid)
    end
  else
    moved[#moved + 1] = sid
  end
end
return moved
"""

TOUCH = """
-- Returns 1 if the session's handler runs in another process than ARGV[4].
local h = key('s', ARGV[2])
local f = redis.call('HMGET', h, 'hs', 'hn')
if not f[1] then return 0 end
redis.call('HSET', h, 'seen', ARGV[3])
return (f[1] == '1' and f[2] ~= ARGV[4]) and 1 or 0
"""

PUSH = """
return push(ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6])
"""

OFFER = """
local sid = ARGV[2]
local seq, why = push(sid, ARGV[3], ARGV[4], tonumber(ARGV[5]))
if seq == 0 or seq == -3 then close_session(sid, 4005, why or BUFFER_OVERFLOW) end
return seq > 0 and 1 or 0
"""

ACK = """
-- An acknowledgement of a session whose connection this process does not hold (the process
-- holding it numbers: it is passed on), or that has none: numbered from the logs here.
local sid, seq, node = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'oa', 'og', 'cn', 'cg', 'ca', 'w', 'mq', 'mb')
if not f[1] then return -2 end
local acked, og = tonumber(f[2]), tonumber(f[3])
if seq <= acked then return 0 end
if f[4] and f[4] ~= node then
  notify(f[4], 'a ' .. sid .. ' ' .. seq)
  return 0
end
local entries = collect(sid, og, upto_of(f[5]))
if not entries then return 0 end  -- it cannot be numbered any more: its attach says so
if seq > acked + #entries then return -1 end
local last_g, _, count, bytes = number(entries, acked, og, seq, -1, -1)
checkpoint(sid, h, seq, last_g, f[6])
redis.call('HSET', h, 'ua', count, 'ub', bytes)
if f[7] then  -- a sender waits for room
  redis.call('HDEL', h, 'w')
  notify(f[7], 'k ' .. sid)
end
return seq - acked
"""

PENDING = """
-- The messages after ``after`` of a session whose connection this process does not hold.
local sid, after, count = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local h = key('s', sid)
local f = redis.call('HMGET', h, 'st', 'oa', 'og', 'cg', 'cc', 'cr', 'ic')
if not f[1] then return {'unknown'} end
local acked = tonumber(f[2])
if after < acked then return {'gap', tostring(acked + 1)} end
local entries = collect(sid, tonumber(f[3]), upto_of(f[4]))
if not entries then return {'gap', tostring(acked + 1)} end
if after > acked + #entries then return {'protocol', tostring(acked + #entries)} end
local flat = {}
for i = after - acked + 1, #entries do
  if count >= 0 and #flat >= 3 * count then break end
  local e = entries[i]
  flat[#flat + 1] = acked + i
  flat[#flat + 1] = e[2]
  flat[#flat + 1] = e[3]
end
return {f[1], tostring(acked + #entries), f[5] or '', f[6] or '', f[7], flat}
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
  notify(f[6], 'r ' .. sid .. ' ' .. (consumed + 1))
  return {'msg', kind, data}
end
if f[1] == '3' then return {'closed', f[4], f[5]} end
return {'empty'}
"""

CLOSE = """
local at = ARGV[5]
return close_session(ARGV[2], ARGV[3], ARGV[4], at ~= '' and tonumber(at) or nil)
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
    close_session(sid, 4000, 'no connection for too long')
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
  if f[1] == node then  -- its checkpoint is the last the dead process wrote
    for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
      place(room, sid, node, -1)
      place(room, sid, nil, 1, h)
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
-- their rooms' keys and of this process's sets; return those whose keys are gone.
local ttl, node = tonumber(ARGV[2]), ARGV[3]
local gone = {}
for i = 4, #ARGV do
  local sid = ARGV[i]
  if redis.call('PEXPIRE', key('s', sid), ttl) == 1 then
    for _, kind in ipairs({'o', 'i', 'r', 'ri', 'rh'}) do
      redis.call('PEXPIRE', key(kind, sid), ttl)
    end
    redis.call('PEXPIRE', key('mem', redis.call('HGET', key('s', sid), 'ca') or ''), ttl)
    for _, room in ipairs(redis.call('SMEMBERS', key('r', sid))) do
      for _, kind in ipairs({'room', 'log', 'rn', 'rw'}) do
        redis.call('PEXPIRE', key(kind, room), ttl)
      end
    end
  else
    gone[#gone + 1] = sid
  end
end
redis.call('PEXPIRE', key('conns', node), ttl)
redis.call('PEXPIRE', key('handlers', node), ttl)
redis.call('PEXPIRE', P .. ':mem', ttl)
return gone
"""

SCRIPTS: dict[str, str] = {
    name: compose(PRELUDE + COLLECT + PUSH_FUNCTION, body)
    for name, body in {
        **ROOM_SCRIPTS,
        "create": CREATE,
        "attach": ATTACH,
        "reattach": REATTACH,
        "detach": DETACH,
        "flush": FLUSH,
        "touch": TOUCH,
        "push": PUSH,
        "offer": OFFER,
        "ack": ACK,
        "pending": PENDING,
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
