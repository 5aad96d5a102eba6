"""The Lua scripts that make each discovery write atomic.

Every write is one script, so fifty people voting at once are counted exactly and an index
never disagrees with the record it lists. The indexes are kept by the same scripts: `top`
(votes), `new`, a finder's published and all finds, and the finders' leaderboard hold published
discoveries only. `INDEX_LUA` is the one function that moves a discovery in or out of them;
moderation's scripts (moderation_scripts.py) include it, so a hide or restore updates the
indexes exactly as a share does. The service that runs these scripts is discoveries.py.
"""

from __future__ import annotations

from .. import keys

# Moves published discovery n of `finder` into (on = 1) or out of (on = -1) the indexes.
# KEYS[1..4]: top, new, leaderboard votes, leaderboard finds. votes_p, by_p: key prefixes.
INDEX_LUA = """
local function index(n, finder, on, votes_p, by_p)
  local votes = redis.call('SCARD', votes_p .. n)
  if on > 0 then
    redis.call('ZADD', KEYS[1], votes, string.format('%012d', n))
    redis.call('ZADD', KEYS[2], n, n)
    redis.call('ZADD', by_p .. finder, n, n)
  else
    redis.call('ZREM', KEYS[1], string.format('%012d', n))
    redis.call('ZREM', KEYS[2], n)
    redis.call('ZREM', by_p .. finder, n)
  end
  redis.call('ZINCRBY', KEYS[3], on * votes, finder)
  if tonumber(redis.call('ZINCRBY', KEYS[4], on, finder)) <= 0 then
    redis.call('ZREM', KEYS[3], finder)
    redis.call('ZREM', KEYS[4], finder)
  end
end
"""
INDEX_KEYS = [keys.DISCOVERIES_TOP, keys.DISCOVERIES_NEW, keys.BOARD_VOTES, keys.BOARD_FINDS]

# KEYS: INDEX_KEYS, tuples, seq, names, mod queue. ARGV: votes_p, by_p, discovery_p, mine_p,
# tuple key, finder, finder name, status, now, ref prefix, then the record's field/value pairs.
# Returns {1, n} for a new discovery, {0, n} when the tuple was already on file.
SHARE_LUA = (
    INDEX_LUA
    + """
local found = redis.call('HGET', KEYS[5], ARGV[5])
if found then return {0, tonumber(found)} end
local n = redis.call('INCR', KEYS[6])
redis.call('HSET', ARGV[3] .. n, unpack(ARGV, 11))
redis.call('HSET', KEYS[5], ARGV[5], n)
redis.call('HSET', KEYS[7], ARGV[6], ARGV[7])
redis.call('ZADD', ARGV[4] .. ARGV[6], n, n)
if ARGV[8] == 'published' then
  index(n, ARGV[6], 1, ARGV[1], ARGV[2])
else
  redis.call('ZADD', KEYS[8], 'NX', ARGV[9], ARGV[10] .. n)
end
return {1, n}
"""
)

# KEYS: discovery, votes, top, leaderboard votes, the voter's server's view. ARGV: voter, n's
# member in top, its ref. Returns {code, votes}: 1 counted, 0 already voted, -1 unknown, -2 not
# published (or hidden from the voter's server), -3 own.
VOTE_LUA = """
local d = redis.call('HMGET', KEYS[1], 'status', 'finder_id')
if not d[1] then return {-1, 0} end
if d[1] ~= 'published' or redis.call('HEXISTS', KEYS[5], ARGV[3]) == 1 then return {-2, 0} end
if d[2] == ARGV[1] then return {-3, 0} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {0, redis.call('SCARD', KEYS[2])} end
redis.call('ZINCRBY', KEYS[3], 1, ARGV[2])
redis.call('ZINCRBY', KEYS[4], 1, d[2])
return {1, redis.call('SCARD', KEYS[2])}
"""

# Same keys and arguments. Returns {code, votes}: 1 withdrawn, 0 never given, -1 unknown.
UNVOTE_LUA = """
local d = redis.call('HMGET', KEYS[1], 'status', 'finder_id')
if not d[1] then return {-1, 0} end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return {0, redis.call('SCARD', KEYS[2])} end
if d[1] == 'published' then
  redis.call('ZINCRBY', KEYS[3], -1, ARGV[2])
  redis.call('ZINCRBY', KEYS[4], -1, d[2])
end
return {1, redis.call('SCARD', KEYS[2])}
"""

# KEYS: discovery, mod queue. ARGV: re-read fingerprint, now, ref.
VERIFY_LUA = """
local fp = redis.call('HGET', KEYS[1], 'fingerprint')
if not fp then return false end
local v = 'verified'
if fp ~= ARGV[1] then v = 'flagged' end
redis.call('HSET', KEYS[1], 'verification', v, 'reread_fingerprint', ARGV[1])
if v == 'flagged' then redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3]) end
return v
"""

# A page of an index (most votes or newest first) as one server sees it: the discoveries its
# moderators hid from its view are skipped. KEYS: the index, the server's view. ARGV: the first
# (0-based), how many, '1' when members are zero-padded (top). Returns {how many the server
# sees in all, n, n, ...}. Views hide few: with none hidden, one ZREVRANGE.
PAGE_LUA = """
local skip, hidden = {}, 0
for _, ref in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(ref, 1, 2) == 'D-' then
    local n = tonumber(string.sub(ref, 3))
    local member = tostring(n)
    if ARGV[3] == '1' then member = string.format('%012d', n) end
    if redis.call('ZSCORE', KEYS[1], member) then
      skip[member] = true
      hidden = hidden + 1
    end
  end
end
local out = {redis.call('ZCARD', KEYS[1]) - hidden}
local first, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local seen, at = 0, 0
if hidden == 0 then at = first; seen = first end
while #out - 1 < count do
  local members = redis.call('ZREVRANGE', KEYS[1], at, at + 99)
  if #members == 0 then break end
  for _, m in ipairs(members) do
    if not skip[m] then
      if seen >= first and #out - 1 < count then table.insert(out, tonumber(m)) end
      seen = seen + 1
    end
  end
  at = at + 100
end
return out
"""
