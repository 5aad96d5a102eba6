"""The Lua scripts that make each moderation write atomic.

A library-wide action on an item is one script: the status change, the discovery indexes
(through `INDEX_LUA`, the function the discovery scripts use, so a hide undoes exactly what a
share did), closing the item's open reports (moved, with the resolution, to its closed-reports
list, never dropped), leaving every queue it waits in (its own server's, and those of the
servers it was reported from) and the log entries happen together or not at all. A server's
view (what its moderators hid from it) changes in one script too, and so do a report, a ban or
unban, and a grant. The services that run them are moderation.py and bans.py.
"""

from __future__ import annotations

from .discovery_scripts import INDEX_LUA

# KEYS: INDEX_KEYS, item, open reports, closed reports, the item's own queue, a mod log, another
# mod log (may be the same). ARGV: votes_p, by_p, discovery number ('' for a bookmark), new
# status, reason, resolution JSON, log entry JSON, item ref, owner field, log length kept, the
# queues' prefix. Returns the old status (nil: gone).
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
  local guild = cjson.decode(open[i + 1])['guild']
  if guild then redis.call('ZREM', ARGV[11] .. guild, ARGV[8]) end
end
redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[8], ARGV[8])
for i = 9, 10 do
  if i == 9 or KEYS[10] ~= KEYS[9] then
    redis.call('RPUSH', KEYS[i], ARGV[7])
    redis.call('LTRIM', KEYS[i], -tonumber(ARGV[10]), -1)
  end
end
return cur[1]
"""
)

# KEYS: a server's view, its queue, its mod log. ARGV: item ref, entry JSON ('' to show it
# again), log entry JSON, log length kept. Leaves the server's queue (its reports are
# answered). Returns 1 when the view or the queue changed (only then is it logged), else 0.
VIEW_LUA = """
local changed
if ARGV[2] == '' then changed = redis.call('HDEL', KEYS[1], ARGV[1])
else changed = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
changed = changed + redis.call('ZREM', KEYS[2], ARGV[1])
if changed > 0 then
  redis.call('RPUSH', KEYS[3], ARGV[3])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
end
return math.min(changed, 1)
"""

# KEYS: item, open reports, the reporter's server's queue, that server's view. ARGV: reporter,
# report JSON, ref, now, owner field.
# Returns the number of open reports, 0 already reported, -1 gone, -2 not public, -3 own.
REPORT_LUA = """
local cur = redis.call('HMGET', KEYS[1], 'status', ARGV[5])
if not cur[1] then return -1 end
if cur[1] ~= 'published' or redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 then return -2 end
if cur[2] == ARGV[1] then return -3 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[3])
return redis.call('HLEN', KEYS[2])
"""

# A roster of people (a server's bans, bans everywhere, the library moderators), changed with
# its log entry. KEYS: the roster, mod log. ARGV: user, record JSON ('' to take them off), log
# entry JSON, log length kept. Returns 1 when the roster changed (only then is it logged), else 0.
ROSTER_LUA = """
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
