"""The job queue on Redis Streams: enqueue, deliver, answer, reclaim, dead-letter.

Jobs not yet answered wait in two lanes (lanes.py): the interactive stream `keys.JOBS`, and the
bulk lane's streams, one per (server, requester), taken round-robin (`take_bulk`); every worker
reads every stream through one consumer group, and a `Delivery` remembers its stream. The steps
that must not be split are Lua scripts (queue_scripts.py), so each is atomic:

- ENQUEUE: a stored reading answers at once; an identical job already in flight gets one more
  waiter instead of a second entry (in-flight dedupe by job id); a full queue (the cap) says
  so; otherwise XADD, with the job's ordinal `n` (for positions in O(log N)).
- FINISH: store the answer (a reading within the readings' byte budget), then XACK and XDEL
  the entry, then post a notice on `keys.RESULTS`. Only the first answer for an in-flight job
  is stored and noticed, so a job delivered twice gives one reply.
- DEAD_RECORD: a job taken more than `max_deliveries` times without an answer is copied to
  `keys.DEAD` and answered with one clear error.
- CANCEL, CANCEL_RUNNING (a find being run), POSITION, TOUCH (heartbeat or hand-back of a
  worker's own entries), KEEP.

Intake never raises: `decode` turns any stream entry into a `Delivery`, with `problem` saying
what is wrong when it is not what ENQUEUE writes, so one malformed entry cannot stop a worker
or the batch it came in. Attempts are counted by the worker in `keys.ATTEMPTS` when it takes
a batch (`start`), never lowered: Redis's own delivery counter also counts hand-backs (a hunt
job a worker passes on unread), so it cannot tell a job that keeps killing workers from one
that was passed around. Answered entries are deleted one by one, so the jobs stream is never
trimmed and a pending entry is never lost. The worker side (`Queue`) is blocking;
`client.LibraryClient` runs the same scripts on an asyncio connection.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, replace

import redis

from . import keys
from .jobs import DEAD, Job, JobError, Result
from .lanes import enqueue_call, handle
from .lanes import enqueue_keys as enqueue_keys  # where callers have always found it
from .queue_scripts import (
    DEAD_RECORD,
    DEPTH,
    ENQUEUE,
    FINISH,
    HAND_BACK_IDLE_MS,
    KEEP,
    RECLAIM_BULK,
    TAKE_BULK,
    TOUCH,
)

log = logging.getLogger(__name__)

_JOB_ID = re.compile(rb"[0-9a-f]{32}")
NEW, HANDED_BACK, SILENT = "new", "handed back", "silent"  # where a worker got a delivery


@dataclass(frozen=True)
class Delivery:
    """A job handed to this worker: its stream entry, its attempt, when it was queued."""

    entry: str
    job_id: str  # "" when the entry has no id that could be answered
    job: Job | None  # None when the entry cannot be read (then `problem` says why)
    deliveries: int  # this is the worker's n-th attempt at the job (Queue.start counts it)
    queued_at: float
    problem: str = ""  # what is wrong with an entry that cannot be read
    raw_job: str = ""  # the job field as stored, for the dead-letter record of such an entry
    why: str = ""  # why the previous worker could not answer it (keys.ATTEMPTS)
    source: str = NEW  # NEW, HANDED_BACK (by a worker) or SILENT (its worker went silent)
    stream: str = keys.JOBS  # the lane's stream it waits in (lanes.py)

    @property
    def handle(self) -> str:
        """Its place as the in-flight record and the attempts name it (unique in both lanes)."""
        return handle(self.stream, self.entry)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _shown(value) -> str:
    """A field's value for a log line or a record, whatever its bytes."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return str(value)


def _time(value) -> float:
    at = float(value)
    if not math.isfinite(at) or at < 0:
        raise ValueError
    return at


def decode(entry, fields: dict, source: str = NEW, stream: str = keys.JOBS) -> Delivery:
    """A stream entry as a Delivery; never raises (what cannot be read goes in `problem`)."""
    entry = _shown(entry)
    raw = {_shown(k): v for k, v in fields.items()}
    raw_id = raw.get("id", b"")
    raw_id = raw_id.encode() if isinstance(raw_id, str) else raw_id
    job_id = raw_id.decode() if _JOB_ID.fullmatch(raw_id) else ""
    job, at, problem = None, 0.0, ""
    try:
        if not job_id:
            raise JobError(f"its id {_shown(raw_id)[:40]!r} is not a job id")
        try:
            at = _time(raw.get("at", b"0"))
            int(raw.get("n", b"0"))
        except ValueError:
            raise JobError("its time or number is not a number") from None
        job = Job.from_json(raw.get("job", b""))
        if job.id != job_id:
            raise JobError("its id is not the id of its job")
    except Exception as e:  # anything at all: the entry is answered, never raised on
        problem, job = str(e) or type(e).__name__, None
        log.error("unreadable job entry %s: %s", entry, problem)
    raw_job = _shown(raw.get("job", b""))[:2000] if problem else ""
    return Delivery(entry, job_id, job, 0, at, problem, raw_job, source=source, stream=stream)


def ensure_group(r: redis.Redis) -> None:
    """Create the stream and the consumer group if missing (from the start: id 0)."""
    try:
        r.xgroup_create(keys.JOBS, keys.GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def result_ttl(result: Result, reading_ttl_s: int) -> int:
    return reading_ttl_s if result.ok else keys.ERROR_TTL_S


def finish_args(delivery: Delivery, result: Result, ttl_s: int, budget: int) -> dict:
    """FINISH's keys and arguments (the heartbeat answers timeouts with it too)."""
    return dict(
        keys=keys.answering(delivery.job_id, delivery.stream) + keys.READINGS,
        args=[
            keys.GROUP,
            delivery.handle,
            delivery.job_id,
            result.to_json(),
            result_ttl(result, ttl_s),
            int(result.ok),
            keys.RESULTS_MAXLEN,
            budget,
            time.time(),
        ],
    )


def dead_message(d: Delivery, max_deliveries: int) -> str:
    """The one error a dead-lettered job is answered with, in words for who asked."""
    if d.problem:
        return (
            f"this request could not be read ({d.problem}); it has been set aside for the "
            "librarians"
        )
    if d.why:
        return (
            f"no worker could read this volume: it failed {max_deliveries} times ({d.why}). "
            "It has been set aside for the librarians; please try another volume"
        )
    return (
        f"no worker could read this volume: {max_deliveries} workers stopped while reading "
        "it. It has been set aside for the librarians; please try another volume"
    )


class Queue:
    """The worker's side of the queue, on a blocking Redis client.

    `readings_budget` is the byte budget of stored readings (0: none, the TTL only).
    """

    def __init__(self, r: redis.Redis, consumer: str, reading_ttl_s: int, readings_budget: int = 0):
        self.r = r
        self.consumer = consumer
        self.reading_ttl_s = reading_ttl_s
        self.readings_budget = readings_budget
        self._finish = r.register_script(FINISH)
        self._dead = r.register_script(DEAD_RECORD)
        self._touch = r.register_script(TOUCH)
        self._enqueue = r.register_script(ENQUEUE)
        self._take_bulk = r.register_script(TAKE_BULK)
        self._reclaim_bulk = r.register_script(RECLAIM_BULK)
        self._depth = r.register_script(DEPTH)

    def ensure_group(self) -> None:
        ensure_group(self.r)

    def enqueue(
        self, job: Job, requester: str, cap: int = 0, server: str = "", bulk_cap: int = 0
    ) -> tuple[str, str]:
        """(state, value) as ENQUEUE returns it; the client's `submit` is the usual way in."""
        state, value = self._enqueue(**enqueue_call(job, requester, server, cap, bulk_cap))
        return _text(state), _text(value)

    def read_new(self, count: int, block_ms: int | None) -> list[Delivery]:
        """Up to `count` new jobs, waiting up to block_ms for the first (None: no waiting)."""
        reply = self.r.xreadgroup(
            keys.GROUP, self.consumer, {keys.JOBS: ">"}, count=count, block=block_ms
        )
        return [decode(e, f) for _, entries in reply or [] for e, f in entries]

    def take_bulk(self, count: int) -> list[Delivery]:
        """Up to `count` new bulk jobs, all from the stream whose turn it is (round-robin over
        servers, then their requesters: queue_scripts.TAKE_BULK); never waits."""
        reply = self._take_bulk(keys=[keys.BULK_SERVERS], args=[keys.GROUP, self.consumer, count])
        if not reply:
            return []
        stream, entries = _text(reply[0]), reply[1]
        return [decode(e, _fields(f), stream=stream) for e, f in entries]

    def reclaim_bulk(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """`reclaim` over every stream of the bulk lane (and forget the streams emptied)."""
        reply = self._reclaim_bulk(
            keys=[keys.BULK_STREAMS, keys.BULK_SERVERS, keys.BULK_ADDED],
            args=[keys.GROUP, self.consumer, min_idle_ms, count],
        )
        source = HANDED_BACK if min_idle_ms >= HAND_BACK_IDLE_MS else SILENT
        return [decode(e, _fields(f), source, _text(stream)) for stream, e, f in reply]

    def reclaim(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """Take over up to `count` interactive jobs idle for min_idle_ms: those of a silent
        worker, or (min_idle_ms >= HAND_BACK_IDLE_MS) only those another worker handed back."""
        _, claimed, *_ = self.r.xautoclaim(
            keys.JOBS, keys.GROUP, self.consumer, min_idle_ms, "0-0", count=count
        )
        out = []
        for entry, fields in claimed:
            if not fields:  # deleted while pending (Redis 6.2 still lists it): nothing to do
                self.r.xack(keys.JOBS, keys.GROUP, entry)
                continue
            source = HANDED_BACK if min_idle_ms >= HAND_BACK_IDLE_MS else SILENT
            out.append(decode(entry, fields, source))
        return out

    def start(self, batch: list[Delivery]) -> list[Delivery]:
        """Count one more attempt at each job of the batch (never undone) and read why the last
        one failed; returns the deliveries with `deliveries` set to this attempt's number."""
        if not batch:
            return []
        pipe = self.r.pipeline(transaction=False)
        for d in batch:
            pipe.hincrby(keys.ATTEMPTS, d.handle, 1)
            pipe.hget(keys.ATTEMPTS, "why:" + d.handle)
        replies = pipe.execute()
        return [
            replace(d, deliveries=int(n), why=_shown(why) if why else "")
            for d, n, why in zip(batch, replies[0::2], replies[1::2], strict=True)
        ]

    def finish(self, delivery: Delivery, result: Result) -> bool:
        """Store the answer and acknowledge the entry; False if the job was already answered."""
        args = finish_args(delivery, result, self.reading_ttl_s, self.readings_budget)
        return bool(self._finish(**args))

    def dead_letter(self, delivery: Delivery, max_deliveries: int) -> bool:
        """Record the job in the dead-letter stream and answer it with one clear error."""
        job = delivery.job
        log.error(
            "dead-lettering job %s (entry %s) at attempt %d: %s",
            delivery.job_id or "without an id",
            delivery.entry,
            delivery.deliveries,
            delivery.problem or delivery.why or "its workers stopped while reading it",
        )
        self._dead(
            keys=[keys.DEAD, keys.waiters(delivery.job_id)],
            args=[
                delivery.job_id,
                job.to_json() if job else delivery.raw_job,
                delivery.deliveries,
                time.time(),
                keys.DEAD_MAXLEN,
                delivery.problem or delivery.why,
            ],
        )
        message = dead_message(delivery, max_deliveries)
        result = Result.failure(delivery.job_id, job, DEAD, message, finished_at=time.time())
        return self.finish(delivery, result)

    def fail(self, delivery: Delivery, why: str) -> None:
        """This attempt failed outside the job's own error handling: note why, and hand the job
        back (its attempt stays counted), for the next attempt or the dead-letter stream."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(keys.ATTEMPTS, "why:" + delivery.handle, why)
        self._touch(
            keys=[delivery.stream],
            args=[keys.GROUP, self.consumer, HAND_BACK_IDLE_MS, delivery.entry],
            client=pipe,
        )
        pipe.execute()

    def touch(self, entries: list[str], idle_ms: int = 0, stream: str = keys.JOBS) -> int:
        """Heartbeat this worker's entries (idle 0), or hand them back (HAND_BACK_IDLE_MS)."""
        if not entries:
            return 0
        return int(self._touch(keys=[stream], args=[keys.GROUP, self.consumer, idle_ms, *entries]))

    def hand_back(self, entries: list[str], stream: str = keys.JOBS) -> int:
        """Give entries back to the group unread: the next reclaim by any worker takes them."""
        return self.touch(entries, HAND_BACK_IDLE_MS, stream)

    def touch_all(self, deliveries: list[Delivery], idle_ms: int = 0) -> int:
        """`touch` jobs of any lane: one script call per stream, in one round trip."""
        by_stream: dict[str, list[str]] = {}
        for d in deliveries:
            by_stream.setdefault(d.stream, []).append(d.entry)
        if not by_stream:
            return 0
        pipe = self.r.pipeline(transaction=False)
        for stream, entries in by_stream.items():
            self._touch(
                keys=[stream], args=[keys.GROUP, self.consumer, idle_ms, *entries], client=pipe
            )
        return sum(int(n) for n in pipe.execute())

    def hand_back_all(self, deliveries: list[Delivery]) -> int:
        """`hand_back` jobs of any lane."""
        return self.touch_all(deliveries, HAND_BACK_IDLE_MS)

    def depth(self) -> int:
        """Jobs not yet answered (waiting or being read), in both lanes."""
        return int(self._depth(keys=[keys.JOBS, keys.BULK_STREAMS]))

    def forget_consumers(self, idle_ms: int) -> None:
        """Drop consumers of the group that own nothing and have been idle for idle_ms."""
        for c in self.r.xinfo_consumers(keys.JOBS, keys.GROUP):
            if c["pending"] == 0 and c["idle"] > idle_ms and _text(c["name"]) != self.consumer:
                self.r.xgroup_delconsumer(keys.JOBS, keys.GROUP, c["name"])


def keep_readings(r: redis.Redis, results: list[Result], ttl_s: int, budget: int) -> None:
    """Store readings found on the way (a hunt's best) as the answers of the reading jobs they
    equal, where none is stored: within the readings' budget, like every answer."""
    keep = r.register_script(KEEP)
    pipe = r.pipeline(transaction=False)
    for result in results:
        keep(
            keys=[keys.result(result.job_id), *keys.READINGS],
            args=[result.to_json(), ttl_s, budget, time.time()],
            client=pipe,
        )
    pipe.execute()


def _fields(flat) -> dict:
    """A stream entry's fields as a script returns them (a flat list) as a dict."""
    return dict(zip(flat[0::2], flat[1::2], strict=True)) if flat else {}
