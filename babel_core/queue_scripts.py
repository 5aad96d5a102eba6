"""The queue's Lua scripts: each step that must not be split is one script, so it is atomic.

queue.py (the worker's side), lanes.py and client.py (the front end's side) run them;
docs/worker.md describes the flow. Every script that answers a job (FINISH, CANCEL) also
forgets the entry's attempt count (`keys.ATTEMPTS`), so the hash holds only jobs not yet
answered. Readings are stored through `KEEP_LUA`, which charges their bytes to the readings'
budget and evicts the least recently used readings past it (the newest one is always kept, so
an answer just stored is never the one evicted).

A job's *handle* names its place: the entry id alone in the interactive lane (`keys.JOBS`, as
before there were lanes), "ENTRY STREAM" in the bulk lane. It is what the in-flight record
holds and what the attempts are counted under (`LOCATE_LUA` reads it back). TAKE_BULK and
RECLAIM_BULK walk the bulk lane's rings and registry, so they name streams the caller did not
pass in KEYS: fine on the one Redis this library runs on, not on a Redis Cluster.
"""

from __future__ import annotations

from . import keys

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

# locate(handle) -> entry, stream: where a job waits (the module docstring).
LOCATE_LUA = f"""
local function locate(handle)
  local entry, stream = string.match(handle, '^(%S+) (.+)$')
  if entry then return entry, stream end
  return handle, '{keys.JOBS}'
end
"""

# KEYS: result, inflight, waiters, stream, added, readings lru; a bulk job also the bulk
# streams' registry, the servers' ring and its server's ring (lanes.enqueue_call).
# ARGV: job id, job json, requester, now, the lane's cap (0: none); a bulk job also its server
# and the cap on one requester's queued bulk jobs (0: none).
# The stream is the job's lane: keys.JOBS with the counter keys.JOBS_ADDED for ordinals, or
# the requester's bulk stream with the hash keys.BULK_ADDED; a bulk stream is made (with the
# group) when missing, registered, and put in its server's ring, the server in the servers'.
# Returns {state, value}: {"cached", result json} | {"joined", handle} | {"queued", handle}
# | {"busy", jobs queued in the lane} | {"full", the requester's bulk jobs queued}.
ENQUEUE = (
    LOCATE_LUA
    + f"""
local stored = redis.call('GET', KEYS[1])
if stored then
  if cjson.decode(stored)['ok'] then
    redis.call('ZADD', KEYS[6], 'XX', ARGV[4], KEYS[1])
    return {{'cached', stored}}
  end
  redis.call('DEL', KEYS[1])
end
local handle = redis.call('GET', KEYS[2])
if handle then
  local entry, stream = locate(handle)
  if #redis.call('XRANGE', stream, entry, entry) > 0 then
    redis.call('SADD', KEYS[3], ARGV[3])
    return {{'joined', handle}}
  end
end
local cap, server = tonumber(ARGV[5]), ARGV[6]
local queued, n = 0, nil
if server then
  local mine = redis.call('XLEN', KEYS[4])
  if tonumber(ARGV[7]) > 0 and mine >= tonumber(ARGV[7]) then return {{'full', tostring(mine)}} end
  if cap > 0 then
    for _, s in ipairs(redis.call('HKEYS', KEYS[7])) do queued = queued + redis.call('XLEN', s) end
  end
elseif cap > 0 then
  queued = redis.call('XLEN', KEYS[4])
end
if cap > 0 and queued >= cap then return {{'busy', tostring(queued)}} end
if server then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('XGROUP', 'CREATE', KEYS[4], '{keys.GROUP}', '0', 'MKSTREAM')
  end
  n = redis.call('HINCRBY', KEYS[5], KEYS[4], 1)
else
  n = redis.call('INCR', KEYS[5])
end
handle = redis.call('XADD', KEYS[4], '*', 'id', ARGV[1], 'job', ARGV[2], 'at', ARGV[4], 'n', n)
if server then
  handle = handle .. ' ' .. KEYS[4]
  redis.call('HSET', KEYS[7], KEYS[4], server)
  if not redis.call('LPOS', KEYS[9], KEYS[4]) then redis.call('RPUSH', KEYS[9], KEYS[4]) end
  if not redis.call('LPOS', KEYS[8], server) then redis.call('RPUSH', KEYS[8], server) end
end
redis.call('SET', KEYS[2], handle)
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[3], ARGV[3])
return {{'queued', handle}}
"""
)

# KEYS: result, inflight, waiters, stream, results, attempts, readings lru, sizes, bytes.
# ARGV: group, handle, job id, result json, ttl, ok (1/0), results maxlen, readings budget, now.
# Returns 1 if this answer was delivered, 0 if one already was (or the in-flight record names
# another entry: a stray entry with this job's id never answers the job queued under it).
FINISH = (
    KEEP_LUA
    + LOCATE_LUA
    + """
local entry = locate(ARGV[2])
local answered = redis.call('GET', KEYS[2]) ~= ARGV[2]
if not answered then
  if ARGV[6] == '1' then
    keep(KEYS[1], ARGV[4], ARGV[5], ARGV[8], KEYS[7], KEYS[8], KEYS[9], ARGV[9])
  else
    redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
  end
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('XACK', KEYS[4], ARGV[1], entry)
redis.call('XDEL', KEYS[4], entry)
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
# read) or n (n-th in line in its stream: the interactive lane, or its requester's bulk
# stream). O(log N): the entry's ordinal minus that of the first entry not yet delivered (jobs
# cancelled between them still count: an estimate, never too low). A job handed back (long
# idle in the pending list) is next in line.
POSITION = (
    ORDINAL_LUA
    + LOCATE_LUA
    + """
local handle = redis.call('GET', KEYS[1])
if not handle then return -1 end
local entry, stream = locate(handle)
local mine = redis.call('XRANGE', stream, entry, entry)[1]
if not mine then return -1 end
local p = redis.call('XPENDING', stream, ARGV[1], entry, entry, 1)[1]
if p then
  if tonumber(p[3]) >= tonumber(ARGV[2]) then return 1 end
  return 0
end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, id
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then id = g[i + 1] end
  end
  if name == ARGV[1] then last = id end
end
local first = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)[1]
local a, b = ordinal(mine), ordinal(first)
if a and b then return math.max(1, a - b + 1) end
return #redis.call('XRANGE', stream, '(' .. last, entry, 'COUNT', 100000)
"""
)

# KEYS: result, inflight, waiters, jobs, results, attempts. ARGV: group, requester, job id,
# cancelled json, ttl, maxlen, hand-back idle ms. The job's stream is read from its in-flight
# record (either lane).
# Returns 1 withdrawn (the requester no longer waits for it), 0 not queued (answered, or never
# asked), -1 the requester is not one of its waiters, -2 a worker is reading it.
CANCEL = (
    LOCATE_LUA
    + """
local handle = redis.call('GET', KEYS[2])
if not handle then return 0 end
local entry, stream = locate(handle)
if redis.call('EXISTS', stream) == 0 then return 0 end
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return -1 end
local p = redis.call('XPENDING', stream, ARGV[1], entry, entry, 1)[1]
if p and tonumber(p[3]) < tonumber(ARGV[7]) then return -2 end
redis.call('SREM', KEYS[3], ARGV[2])
if redis.call('SCARD', KEYS[3]) > 0 then return 1 end
if p then redis.call('XACK', stream, ARGV[1], entry) end
redis.call('XDEL', stream, entry)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HDEL', KEYS[6], handle, 'why:' .. handle)
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[3], 'ok', '0')
return 1
"""
)

# KEYS: inflight, waiters, jobs, cancel flag. ARGV: group, requester, flag ttl.
# A find being run: the requester stops waiting for it and, when no requester is left, the
# flag tells the worker to stop (it answers CANCELLED). Returns 1 when the requester was
# withdrawn. Other kinds of job being read are not stopped (they take seconds); a find waits
# in the interactive lane, so a job of the bulk lane is never one.
CANCEL_RUNNING = (
    LOCATE_LUA
    + """
local handle = redis.call('GET', KEYS[1])
if not handle or redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 then return 0 end
local entry, stream = locate(handle)
if stream ~= KEYS[3] then return 0 end
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
)

# KEYS: stream (of either lane). ARGV: group, consumer, idle ms, entry ids...
# For each entry this consumer still owns, set its idle time: 0 is a heartbeat, a large value
# hands it back so that the next reclaim takes it at once. JUSTID: Redis's delivery counter is
# left as it is (nothing here ever lowers a count; attempts are counted in keys.ATTEMPTS).
# A bulk stream emptied and forgotten meanwhile (RECLAIM_BULK) holds nothing: 0.
TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = 0
for i = 4, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n
"""

# KEYS: the servers' ring. ARGV: group, consumer, count.
# The bulk lane's round-robin, one step: the next server in the servers' ring, the next stream
# in that server's ring, up to `count` new entries from it (XREADGROUP), both rings rotated
# (LMOVE), so the next call serves the next server and this server's next requester. A stream
# with nothing new leaves its ring (ENQUEUE puts it back), a server with no stream left leaves
# the servers' ring. Returns {stream, entries} or nil when the bulk lane has nothing new.
TAKE_BULK = f"""
for _ = 1, redis.call('LLEN', KEYS[1]) do
  local server = redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
  if not server then return nil end
  local ring = '{keys.BULK_RING}' .. server
  for _ = 1, redis.call('LLEN', ring) do
    local stream = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
    if redis.call('EXISTS', stream) == 1 then
      local got = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
        'STREAMS', stream, '>')
      if type(got) == 'table' and not got.err then return {{stream, got[1][2]}} end
    end
    redis.call('LREM', ring, 0, stream)
  end
  if redis.call('EXISTS', ring) == 0 then redis.call('LREM', KEYS[1], 0, server) end
end
return nil
"""

# KEYS: the bulk streams' registry, the servers' ring, the bulk ordinals.
# ARGV: group, consumer, min idle ms, count.
# XAUTOCLAIM over every bulk stream, up to `count` entries in all: those handed back
# (min idle HAND_BACK_IDLE_MS) or of silent workers. A stream whose last job was answered or
# withdrawn (XLEN 0) is forgotten here: deleted, and out of the registry and its rings.
# Returns {stream, entry, fields} for each entry taken.
RECLAIM_BULK = f"""
local out, left = {{}}, tonumber(ARGV[4])
local streams = redis.call('HGETALL', KEYS[1])
for i = 1, #streams, 2 do
  local stream, server = streams[i], streams[i + 1]
  if redis.call('XLEN', stream) == 0 then
    local ring = '{keys.BULK_RING}' .. server
    redis.call('DEL', stream)
    redis.call('HDEL', KEYS[1], stream)
    redis.call('HDEL', KEYS[3], stream)
    redis.call('LREM', ring, 0, stream)
    if redis.call('EXISTS', ring) == 0 then redis.call('LREM', KEYS[2], 0, server) end
  elseif left > 0 then
    local got = redis.pcall('XAUTOCLAIM', stream, ARGV[1], ARGV[2], ARGV[3], '0-0',
      'COUNT', left)
    if type(got) == 'table' and not got.err then
      for _, e in ipairs(got[2]) do
        if type(e[2]) == 'table' and #e[2] > 0 then
          out[#out + 1] = {{stream, e[1], e[2]}}
          left = left - 1
        else  -- deleted while pending (Redis 6.2 still lists it): nothing to do
          redis.call('XACK', stream, ARGV[1], e[1])
        end
      end
    end
  end
end
return out
"""

# KEYS: jobs, the bulk streams' registry. Jobs not yet answered in both lanes (the metric).
DEPTH = """
local n = redis.call('XLEN', KEYS[1])
for _, s in ipairs(redis.call('HKEYS', KEYS[2])) do n = n + redis.call('XLEN', s) end
return n
"""
