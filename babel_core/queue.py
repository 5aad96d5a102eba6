"""The job queue on Redis Streams: enqueue, deliver, answer, reclaim, dead-letter.

One stream (`keys.JOBS`) holds the jobs not yet answered; every worker reads it through one
consumer group. The steps that must not be split are Lua scripts, so each is atomic:

- ENQUEUE: a stored reading answers at once; an identical job already in flight gets one more
  waiter instead of a second entry (in-flight dedupe by job id); otherwise XADD.
- FINISH: store the answer, then XACK and XDEL the entry, then post a notice on
  `keys.RESULTS`. Only the first answer for an in-flight job is stored and noticed, so a job
  delivered twice (a slow worker's job reclaimed by another) gives one reply.
- DEAD_LETTER: a job delivered more than `max_deliveries` times is copied to `keys.DEAD` and
  answered with one clear error.
- CANCEL, CANCEL_RUNNING (a find being run), POSITION, TOUCH (heartbeat or hand-back of a
  worker's own entries).

Answered entries are deleted one by one, so the jobs stream is never trimmed and a pending
entry is never lost; the notice and dead-letter streams hold no pending entries and are
trimmed by MAXLEN. The worker side (`Queue`) is blocking; `client.LibraryClient` runs the
same scripts on an asyncio connection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from . import keys
from .jobs import DEAD, Job, Result

log = logging.getLogger(__name__)

# KEYS: result, inflight, waiters, jobs. ARGV: job id, job json, requester, now.
# Returns {state, value}: {"cached", result json} | {"joined", entry} | {"queued", entry}.
ENQUEUE = """
local stored = redis.call('GET', KEYS[1])
if stored then
  if cjson.decode(stored)['ok'] then return {'cached', stored} end
  redis.call('DEL', KEYS[1])
end
local entry = redis.call('GET', KEYS[2])
if entry and #redis.call('XRANGE', KEYS[4], entry, entry) > 0 then
  redis.call('SADD', KEYS[3], ARGV[3])
  return {'joined', entry}
end
entry = redis.call('XADD', KEYS[4], '*', 'id', ARGV[1], 'job', ARGV[2], 'at', ARGV[4])
redis.call('SET', KEYS[2], entry)
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[3], ARGV[3])
return {'queued', entry}
"""

# KEYS: result, inflight, waiters, jobs, results. ARGV: group, entry, job id, result json,
# ttl, ok (1/0), results maxlen. Returns 1 if this answer was delivered, 0 if one already was.
FINISH = """
local answered = redis.call('EXISTS', KEYS[2]) == 0
if not answered then
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('XACK', KEYS[4], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[4], ARGV[2])
if answered then return 0 end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[3], 'ok', ARGV[6])
return 1
"""

# KEYS: dead, waiters. ARGV: job id, job json, deliveries, now, maxlen.
# Runs just before FINISH (with the error answer) for a dead-lettered job.
DEAD_RECORD = """
local who = table.concat(redis.call('SMEMBERS', KEYS[2]), ',')
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[1], 'job', ARGV[2],
  'deliveries', ARGV[3], 'at', ARGV[4], 'requesters', who)
return 1
"""

# KEYS: inflight, jobs. ARGV: group. Returns -1 (not queued), 0 (being read) or n (n-th in line).
POSITION = """
local entry = redis.call('GET', KEYS[1])
if not entry or #redis.call('XRANGE', KEYS[2], entry, entry) == 0 then return -1 end
if #redis.call('XPENDING', KEYS[2], ARGV[1], entry, entry, 1) > 0 then return 0 end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
  local name, id
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then id = g[i + 1] end
  end
  if name == ARGV[1] then last = id end
end
return #redis.call('XRANGE', KEYS[2], '(' .. last, entry, 'COUNT', 100000)
"""

# KEYS: result, inflight, waiters, jobs, results. ARGV: group, requester, job id,
# cancelled json, ttl, maxlen. Returns 1 when the requester no longer waits for the job.
CANCEL = """
local entry = redis.call('GET', KEYS[2])
if not entry or redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return 0 end
if #redis.call('XPENDING', KEYS[4], ARGV[1], entry, entry, 1) > 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
if redis.call('SCARD', KEYS[3]) > 0 then return 1 end
redis.call('XDEL', KEYS[4], entry)
redis.call('DEL', KEYS[2], KEYS[3])
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
  if fields[i] == 'job' then kind = cjson.decode(fields[i + 1])['kind'] end
end
if kind ~= 'find' then return 0 end
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SET', KEYS[4], '1', 'EX', ARGV[3]) end
return 1
"""

# KEYS: jobs. ARGV: group, consumer, idle ms, uncount (1/0), entry ids...
# For each entry this consumer still owns: set its idle time (0 = heartbeat; large = hand it
# back so the next reclaim takes it at once) and, on hand-back, do not count this delivery.
TOUCH = """
local n = 0
for i = 5, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then
    local count = p[1][4]
    if ARGV[4] == '1' and count > 1 then count = count - 1 end
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3],
      'RETRYCOUNT', count, 'JUSTID')
    n = n + 1
  end
end
return n
"""


@dataclass(frozen=True)
class Delivery:
    """A job handed to this worker: its stream entry, how often it was delivered, when queued."""

    entry: str
    job_id: str
    job: Job | None  # None when the entry is unreadable (it is answered with an error)
    deliveries: int
    queued_at: float


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def ensure_group(r: redis.Redis) -> None:
    """Create the stream and the consumer group if missing (from the start: id 0)."""
    try:
        r.xgroup_create(keys.JOBS, keys.GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def result_ttl(result: Result, reading_ttl_s: int) -> int:
    return reading_ttl_s if result.ok else keys.ERROR_TTL_S


class Queue:
    """The worker's side of the queue, on a blocking Redis client."""

    def __init__(self, r: redis.Redis, consumer: str, reading_ttl_s: int):
        self.r = r
        self.consumer = consumer
        self.reading_ttl_s = reading_ttl_s
        self._finish = r.register_script(FINISH)
        self._dead = r.register_script(DEAD_RECORD)
        self._touch = r.register_script(TOUCH)
        self._enqueue = r.register_script(ENQUEUE)

    def ensure_group(self) -> None:
        ensure_group(self.r)

    def enqueue(self, job: Job, requester: str) -> tuple[str, str]:
        """(state, value) as ENQUEUE returns it; the client's `submit` is the usual way in."""
        state, value = self._enqueue(
            keys=[keys.result(job.id), keys.inflight(job.id), keys.waiters(job.id), keys.JOBS],
            args=[job.id, job.to_json(), requester, time.time()],
        )
        return _text(state), _text(value)

    def read_new(self, count: int, block_ms: int | None) -> list[Delivery]:
        """Up to `count` new jobs, waiting up to block_ms for the first (None: no waiting)."""
        reply = self.r.xreadgroup(
            keys.GROUP, self.consumer, {keys.JOBS: ">"}, count=count, block=block_ms
        )
        return [self._delivery(e, f, 1) for _, entries in reply or [] for e, f in entries]

    def reclaim(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """Take over up to `count` jobs whose worker has been silent for min_idle_ms."""
        _, claimed, *_ = self.r.xautoclaim(
            keys.JOBS, keys.GROUP, self.consumer, min_idle_ms, "0-0", count=count
        )
        out = []
        for entry, fields in claimed:
            if not fields:  # deleted while pending (Redis 6.2 still lists it): nothing to do
                self.r.xack(keys.JOBS, keys.GROUP, entry)
                continue
            info = self.r.xpending_range(keys.JOBS, keys.GROUP, entry, entry, 1)
            deliveries = info[0]["times_delivered"] if info else 1
            out.append(self._delivery(entry, fields, deliveries))
        return out

    def _delivery(self, entry, fields, deliveries: int) -> Delivery:
        fields = {_text(k): v for k, v in fields.items()}
        job_id = _text(fields.get("id", b""))
        try:
            job = Job.from_json(fields["job"])
        except Exception:  # a malformed entry must not stop the worker; FAILED answers it
            log.exception("unreadable job entry %s", _text(entry))
            job = None
        return Delivery(_text(entry), job_id, job, deliveries, float(fields.get("at", 0) or 0))

    def finish(self, delivery: Delivery, result: Result) -> bool:
        """Store the answer and acknowledge the entry; False if the job was already answered."""
        job_id = delivery.job_id
        delivered = self._finish(
            keys=keys.answering(job_id),
            args=[
                keys.GROUP,
                delivery.entry,
                job_id,
                result.to_json(),
                result_ttl(result, self.reading_ttl_s),
                int(result.ok),
                keys.RESULTS_MAXLEN,
            ],
        )
        return bool(delivered)

    def dead_letter(self, delivery: Delivery, max_deliveries: int) -> bool:
        """Record the job in the dead-letter stream and answer it with one clear error."""
        job = delivery.job
        log.error(
            "dead-lettering job %s after %d deliveries: %s",
            delivery.job_id,
            delivery.deliveries,
            job,
        )
        self._dead(
            keys=[keys.DEAD, keys.waiters(delivery.job_id)],
            args=[
                delivery.job_id,
                job.to_json() if job else "",
                delivery.deliveries,
                time.time(),
                keys.DEAD_MAXLEN,
            ],
        )
        message = (
            f"no worker could read this volume: {max_deliveries} workers stopped while reading "
            "it. It has been set aside for the librarians; please try another volume"
        )
        result = Result.failure(delivery.job_id, job, DEAD, message, finished_at=time.time())
        return self.finish(delivery, result)

    def touch(self, entries: list[str], hand_back: bool = False, idle_ms: int = 0) -> int:
        """Heartbeat this worker's entries (idle 0), or hand them back to the group."""
        if not entries:
            return 0
        return int(
            self._touch(
                keys=[keys.JOBS],
                args=[keys.GROUP, self.consumer, idle_ms, int(hand_back), *entries],
            )
        )

    def depth(self) -> int:
        """Jobs not yet answered (waiting or being read)."""
        return int(self.r.xlen(keys.JOBS))

    def forget_consumers(self, idle_ms: int) -> None:
        """Drop consumers of the group that own nothing and have been idle for idle_ms."""
        for c in self.r.xinfo_consumers(keys.JOBS, keys.GROUP):
            if c["pending"] == 0 and c["idle"] > idle_ms and _text(c["name"]) != self.consumer:
                self.r.xgroup_delconsumer(keys.JOBS, keys.GROUP, c["name"])
