"""The Lua scripts that make each moderation write atomic.

An action on an item is one script: the status change, the discovery indexes (through
`INDEX_LUA`, the function the discovery scripts use, so a hide undoes exactly what a share
did), closing the item's open reports (moved, with the resolution, to its closed-reports list,
never dropped), leaving the queue and the log entry happen together or not at all. A report
and a ban or unban are one script each as well. The service that runs them is
moderation.py.
"""

from __future__ import annotations

from .discovery_scripts import INDEX_LUA

# KEYS: INDEX_KEYS, item, open reports, closed reports, mod queue, mod log.
# ARGV: votes_p, by_p, discovery number ('' for a bookmark), new status, reason,
# resolution JSON, log entry JSON, item ref, owner field, log length kept. Returns the old
# status (nil: gone).
ACT_LUA = (
    INDEX_LUA
    + """
local cur = redis.call('HMGET', KEYS[5], 'status', ARGV[9])
if not cur[1] then return false end
redis.call('HSET', KEYS[5], 'status', ARGV[4], 'reason', ARGV[5])
if ARGV[3] ~= '' then
  if cur[1] == 'published' and ARGV[4] ~= 'published' then
    index(ARGV[3], cur[2], -1, ARGV[1], ARGV[2])
  elseif cur[1] ~= 'published' and ARGV[4] == 'published' then
    index(ARGV[3], cur[2], 1, ARGV[1], ARGV[2])
  end
end
local open = redis.call('HGETALL', KEYS[6])
for i = 1, #open, 2 do
  redis.call('RPUSH', KEYS[7], '{"reporter":' .. cjson.encode(open[i]) .. ',"report":' ..
    open[i + 1] .. ',"resolution":' .. ARGV[6] .. '}')
end
redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[8], ARGV[8])
redis.call('RPUSH', KEYS[9], ARGV[7])
redis.call('LTRIM', KEYS[9], -tonumber(ARGV[10]), -1)
return cur[1]
"""
)

# KEYS: item, open reports, mod queue. ARGV: reporter, report JSON, ref, now, owner field.
# Returns the number of open reports, 0 already reported, -1 gone, -2 not public, -3 own.
REPORT_LUA = """
local cur = redis.call('HMGET', KEYS[1], 'status', ARGV[5])
if not cur[1] then return -1 end
if cur[1] ~= 'published' then return -2 end
if cur[2] == ARGV[1] then return -3 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[3])
return redis.call('HLEN', KEYS[2])
"""

# KEYS: bans, mod log. ARGV: user, ban JSON ('' to unban), log entry JSON, log length kept.
# Returns 1 when the ban list changed (the log entry is written only then), else 0.
BAN_LUA = """
local changed
if ARGV[2] == '' then
  changed = redis.call('HDEL', KEYS[1], ARGV[1])
else
  changed = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if changed == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[3])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
end
return changed
"""
