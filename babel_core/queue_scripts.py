"""The queue's Lua scripts: each step that must not be split is one script, so it is atomic.

queue.py (the worker's side) and client.py (the front end's side) run them; docs/worker.md
describes the flow. Every script that answers a job (FINISH, CANCEL) also forgets the entry's
attempt count (`keys.ATTEMPTS`), so the hash holds only jobs not yet answered. Readings are
stored through `KEEP_LUA`, which charges their bytes to the readings' budget and evicts the
least recently used readings past it (the newest one is always kept, so an answer just stored
is never the one evicted).
"""

from __future__ import annotations

HAND_BACK_IDLE_MS = 10**9  # an entry handed back looks this idle: the next reclaim takes it

# keep(key, value, ttl, budget, lru, sizes, total, now): store a reading and charge its bytes.
KEEP_LUA = """
local function keep(key, value, ttl, budget, lru, sizes, total, now)
  redis.call('SET', key, value, 'EX', ttl)
  budget = tonumber(budget)
  if budget <= 0 then return end
  local old = redis.call('HGET', sizes, key)
  if old then redis.call('DECRBY', total, old) end
  redis.call('HSET', sizes, key, #value)
  local sum = redis.call('INCRBY', total, #value)
  redis.call('ZADD', lru, now, key)
  while sum > budget do
    local oldest = redis.call('ZRANGE', lru, 0, 0)[1]
    if not oldest or oldest == key then break end
    sum = redis.call('DECRBY', total, tonumber(redis.call('HGET', sizes, oldest) or '0'))
    redis.call('ZREM', lru, oldest)
    redis.call('HDEL', sizes, oldest)
    redis.call('DEL', oldest)
  end
end
"""

# KEYS: result, inflight, waiters, jobs, added, readings lru.
# ARGV: job id, job json, requester, now, queue cap (0: none).
# Returns {state, value}: {"cached", result json} | {"joined", entry} | {"queued", entry}
# | {"busy", jobs queued}.
ENQUEUE = """
local stored = redis.call('GET', KEYS[1])
if stored then
  if cjson.decode(stored)['ok'] then
    redis.call('ZADD', KEYS[6], 'XX', ARGV[4], KEYS[1])
    return {'cached', stored}
  end
  redis.call('DEL', KEYS[1])
end
local entry = redis.call('GET', KEYS[2])
if entry and #redis.call('XRANGE', KEYS[4], entry, entry) > 0 then
  redis.call('SADD', KEYS[3], ARGV[3])
  return {'joined', entry}
end
local cap = tonumber(ARGV[5])
if cap > 0 then
  local queued = redis.call('XLEN', KEYS[4])
  if queued >= cap then return {'busy', tostring(queued)} end
end
local n = redis.call('INCR', KEYS[5])
entry = redis.call('XADD', KEYS[4], '*', 'id', ARGV[1], 'job', ARGV[2], 'at', ARGV[4], 'n', n)
redis.call('SET', KEYS[2], entry)
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[3], ARGV[3])
return {'queued', entry}
"""

# KEYS: result, inflight, waiters, jobs, results, attempts, readings lru, sizes, bytes.
# ARGV: group, entry, job id, result json, ttl, ok (1/0), results maxlen, readings budget, now.
# Returns 1 if this answer was delivered, 0 if one already was (or the in-flight record names
# another entry: a stray entry with this job's id never answers the job queued under it).
FINISH = (
    KEEP_LUA
    + """
local answered = redis.call('GET', KEYS[2]) ~= ARGV[2]
if not answered then
  if ARGV[6] == '1' then
    keep(KEYS[1], ARGV[4], ARGV[5], ARGV[8], KEYS[7], KEYS[8], KEYS[9], ARGV[9])
  else
    redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
  end
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('XACK', KEYS[4], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[4], ARGV[2])
redis.call('HDEL', KEYS[6], ARGV[2], 'why:' .. ARGV[2])
if answered then return 0 end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[3], 'ok', ARGV[6])
return 1
"""
)

# KEYS: result, readings lru, sizes, bytes. ARGV: result json, ttl, budget, now.
# A reading found on the way (a hunt's best): stored unless one is. Returns 1 if stored.
KEEP = (
    KEEP_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
keep(KEYS[1], ARGV[1], ARGV[2], ARGV[3], KEYS[2], KEYS[3], KEYS[4], ARGV[4])
return 1
"""
)

# KEYS: dead, waiters. ARGV: job id, job json, deliveries, now, maxlen, why.
# Runs just before FINISH (with the error answer) for a dead-lettered job.
DEAD_RECORD = """
local who = table.concat(redis.call('SMEMBERS', KEYS[2]), ',')
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[1], 'job', ARGV[2],
  'deliveries', ARGV[3], 'at', ARGV[4], 'requesters', who, 'why', ARGV[6])
return 1
"""

# The ordinal `n` an entry was queued with (ENQUEUE numbers them), or nil for an old entry.
ORDINAL_LUA = """
local function ordinal(e)
  if not e then return nil end
  for i = 1, #e[2], 2 do
    if e[2][i] == 'n' then return tonumber(e[2][i + 1]) end
  end
  return nil
end
"""

# KEYS: inflight, jobs. ARGV: group, hand-back idle ms. Returns -1 (not queued), 0 (being
# read) or n (n-th in line). O(log N): the entry's ordinal minus that of the first entry not
# yet delivered (jobs cancelled between them still count: an estimate, never too low). A job
# handed back (long idle in the pending list) is next in line.
POSITION = (
    ORDINAL_LUA
    + """
local entry = redis.call('GET', KEYS[1])
if not entry then return -1 end
local mine = redis.call('XRANGE', KEYS[2], entry, entry)[1]
if not mine then return -1 end
local p = redis.call('XPENDING', KEYS[2], ARGV[1], entry, entry, 1)[1]
if p then
  if tonumber(p[3]) >= tonumber(ARGV[2]) then return 1 end
  return 0
end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
  local name, id
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then id = g[i + 1] end
  end
  if name == ARGV[1] then last = id end
end
local first = redis.call('XRANGE', KEYS[2], '(' .. last, '+', 'COUNT', 1)[1]
local a, b = ordinal(mine), ordinal(first)
if a and b then return math.max(1, a - b + 1) end
return #redis.call('XRANGE', KEYS[2], '(' .. last, entry, 'COUNT', 100000)
"""
)

# KEYS: result, inflight, waiters, jobs, results, attempts. ARGV: group, requester, job id,
# cancelled json, ttl, maxlen, hand-back idle ms.
# Returns 1 withdrawn (the requester no longer waits for it), 0 not queued (answered, or never
# asked), -1 the requester is not one of its waiters, -2 a worker is reading it.
CANCEL = """
local entry = redis.call('GET', KEYS[2])
if not entry then return 0 end
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return -1 end
local p = redis.call('XPENDING', KEYS[4], ARGV[1], entry, entry, 1)[1]
if p and tonumber(p[3]) < tonumber(ARGV[7]) then return -2 end
redis.call('SREM', KEYS[3], ARGV[2])
if redis.call('SCARD', KEYS[3]) > 0 then return 1 end
if p then redis.call('XACK', KEYS[4], ARGV[1], entry) end
redis.call('XDEL', KEYS[4], entry)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HDEL', KEYS[6], entry, 'why:' .. entry)
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[3], 'ok', '0')
return 1
"""

# KEYS: inflight, waiters, jobs, cancel flag. ARGV: group, requester, flag ttl.
# A find being run: the requester stops waiting for it and, when no requester is left, the
# flag tells the worker to stop (it answers CANCELLED). Returns 1 when the requester was
# withdrawn. Other kinds of job being read are not stopped (they take seconds).
CANCEL_RUNNING = """
local entry = redis.call('GET', KEYS[1])
if not entry or redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 then return 0 end
if #redis.call('XPENDING', KEYS[3], ARGV[1], entry, entry, 1) == 0 then return 0 end
local found = redis.call('XRANGE', KEYS[3], entry, entry)
if #found == 0 then return 0 end
local fields, kind = found[1][2], nil
for i = 1, #fields, 2 do
  if fields[i] == 'job' then
    local ok, job = pcall(cjson.decode, fields[i + 1])
    if ok and type(job) == 'table' then kind = job['kind'] end
  end
end
if kind ~= 'find' then return 0 end
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SET', KEYS[4], '1', 'EX', ARGV[3]) end
return 1
"""

# KEYS: jobs. ARGV: group, consumer, idle ms, entry ids...
# For each entry this consumer still owns, set its idle time: 0 is a heartbeat, a large value
# hands it back so that the next reclaim takes it at once. JUSTID: Redis's delivery counter is
# left as it is (nothing here ever lowers a count; attempts are counted in keys.ATTEMPTS).
TOUCH = """
local n = 0
for i = 4, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n
"""
