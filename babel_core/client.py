"""The front end's side of the queue: submit a job, follow it, get its one answer.

    client = LibraryClient(redis.asyncio.Redis.from_url(url), settings)
    result = await client.request(Job.read("babel-w3-s2-v17"), requester="user:42")

A submission is durable before `submit` returns: on a server with WAITAOF (Redis 7.2+,
Valkey) the ENQUEUE script is followed by `WAITAOF 1 0` on the same connection, so `submit`
returns once the append-only file holding the job is fsynced (a Redis SIGKILLed under
`appendfsync everysec` keeps it); a stored reading, which writes nothing, does not wait. On an
older server (the embedded Redis 6.2) `appendfsync always` fsyncs before every reply. A worker
stores each answer under the job's result key before it acknowledges the job, and posts a
notice on the results stream. One listener task
per client follows that stream (XREAD BLOCK) and wakes the coroutines waiting for those jobs;
each waiter also re-reads the result key every `poll_s`, so a missed notice costs at most
that long. A job Redis lost anyway (its data wiped) raises `JobLost`; `request(...,
resubmit=n)` submits it again instead. Redis being down surfaces as one `QueueUnreachable`
with a plain message, and is logged once when it starts and once when it ends; a Redis
restart while a job waits is ridden out until the timeout. A full queue (settings.queue_cap)
is `LibraryBusy`: a message for the person, shown as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import redis

from . import keys, metrics
from .errors import LibraryError
from .jobs import CANCELLED, FIND, Job, Result
from .lanes import enqueue_call
from .queue_scripts import CANCEL, CANCEL_RUNNING, ENQUEUE, HAND_BACK_IDLE_MS, POSITION
from .redis_conn import QueueUnreachable
from .settings import Settings

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)
RETRY_DELAYS_S = (0.05, 0.25, 1.0)  # a stale connection or a restarting Redis gets these
DEFAULT_TIMEOUT_S = 600.0
WAITAOF_VERSION = (7, 2)  # Redis (and Valkey) from this version have WAITAOF
WAITAOF_TIMEOUT_MS = 5_000  # a healthy disk fsyncs in milliseconds

# What `withdraw` says: the job left the queue (or the requester stopped waiting for it), it
# was not queued (answered, or never asked for), the requester is not one of its waiters, or a
# worker is reading it now. A job handed back by a worker is queued again: it can be withdrawn.
WITHDRAWN, NOT_QUEUED, NOT_YOURS, BEING_READ = "withdrawn", "not queued", "not yours", "being read"
_CANCEL_CODES = {1: WITHDRAWN, 0: NOT_QUEUED, -1: NOT_YOURS, -2: BEING_READ}


class AnswerTimeout(LibraryError, TimeoutError):
    """No answer within the time the caller would wait (the job itself stays queued)."""


class JobLost(LibraryError):
    """The job is neither queued nor answered (Redis lost it, or its answer expired)."""


class LibraryBusy(LibraryError):
    """The queue holds settings.queue_cap jobs: the request was not queued."""


@dataclass(frozen=True)
class Ticket:
    """What `submit` says: the job's id, its place in line, and the answer if it was stored."""

    job_id: str
    position: int  # 0: being read (or answered); n: n-th in line
    cached: Result | None = None  # a stored reading: no wait needed
    shared: bool = False  # an identical job was already in flight; its answer is ours too


@dataclass(frozen=True)
class Progress:
    """A waiting job's state, given to `on_progress` whenever it changes."""

    job_id: str
    position: int  # 0: a worker is reading it; n: n-th in line; -1: answered just now
    workers: int  # workers alive (0: the job waits until one starts)
    # a find being run (its worker reports about once a second; 0 / None before the first)
    step: int = 0  # training steps taken
    steps: int = 0  # the step cap
    loss: float | None = None
    right: int = 0  # pairs answered right (teacher forced)
    pairs: int = 0


ProgressCallback = Callable[[Progress], Awaitable[None] | None]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LibraryClient:
    """Async client for the bot and the console; one per process, shared by all requests."""

    def __init__(self, redis_async, settings: Settings, poll_s: float = 2.0):
        self.r = redis_async
        self.settings = settings
        self.poll_s = poll_s
        self._enqueue = redis_async.register_script(ENQUEUE)
        self._position = redis_async.register_script(POSITION)
        self._cancel = redis_async.register_script(CANCEL)
        self._cancel_running = redis_async.register_script(CANCEL_RUNNING)
        self._jobs: dict[str, Job] = {}  # submitted here and not yet answered
        self._events: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task | None = None
        self._last_notice = "0-0"
        self._group_ready = False
        self._waitaof: bool | None = None  # decided on the first submission
        self._down_since: float | None = None  # Redis unreachable since (monotonic), if it is

    # -- the API

    async def submit(self, job: Job, requester: str, server: str = "") -> Ticket:
        """Queue the job (or join an identical one in flight, or find its stored reading);
        returns once the job is durable (module docstring). LibraryBusy when its lane is full,
        or the requester's bulk jobs fill their share. `server`: where it was asked ("" outside
        any server); a bulk job waits in that requester's stream there (lanes.py).
        """
        caps = (self.settings.queue_cap, self.settings.bulk_cap_per_requester)

        async def enqueue():
            if not self._group_ready:
                await self._ensure_group()
            if self._waitaof is None:
                self._waitaof = await self._has_waitaof()
            async with self.r.client() as conn:  # WAITAOF waits for its connection's writes
                call = enqueue_call(job, requester, server, *caps)
                state, value = await self._enqueue(**call, client=conn)
                if self._waitaof and _text(state) in ("queued", "joined"):  # it wrote
                    local, _ = await conn.waitaof(1, 0, WAITAOF_TIMEOUT_MS)
                    if int(local) < 1:
                        raise QueueUnreachable(
                            "the library's queue could not confirm that your request was "
                            "saved; please ask again in a minute"
                        )
            return state, value

        state, value = await self._retrying(enqueue)  # ENQUEUE is idempotent: safe to repeat
        state = _text(state)
        if state == "full":
            raise LibraryBusy(
                f"you have {int(value):,} parts of hunts waiting already, the most at once; "
                "please wait for them to be read"
            )
        if state == "busy":
            raise LibraryBusy(
                f"the library is busy ({int(value):,} requests are waiting); "
                "please try again in a minute"
            )
        if state == "cached":
            metrics.CACHE.labels("reading", "hit").inc()
            result = replace(Result.from_json(value).as_cached(), job=job)
            return Ticket(job.id, 0, cached=result)
        metrics.CACHE.labels("reading", "miss").inc()
        self._jobs[job.id] = job
        return Ticket(job.id, max(0, await self.position(job.id)), shared=state == "joined")

    async def wait(
        self,
        job_id: str,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        on_progress: ProgressCallback | None = None,
    ) -> Result:
        """The job's one answer (a reading or an error result); raises if none comes in time."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        event = asyncio.Event()
        self._events.setdefault(job_id, set()).add(event)
        shown: Progress | None = None
        down = False
        next_poll = 0.0
        try:
            await self._listen()
            while True:
                event.clear()
                try:
                    raw = await self.r.get(keys.result(job_id))
                    if raw is not None:
                        self._up()
                        return Result.from_json(raw)
                    if loop.time() >= next_poll or on_progress is not None:
                        now = await self._progress(job_id)
                        if now.position < 0 and await self.r.get(keys.result(job_id)) is None:
                            raise JobLost(
                                "the library lost track of this request (its queue was reset); "
                                "please ask again"
                            )
                        if on_progress is not None and now != shown:
                            shown = now
                            outcome = on_progress(now)
                            if inspect.isawaitable(outcome):
                                await outcome
                        next_poll = loop.time() + self.poll_s
                    down = False
                    self._up()
                except REDIS_DOWN as e:
                    down = True
                    self._down(e)
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    if down:
                        raise QueueUnreachable()
                    raise AnswerTimeout(
                        f"no answer after {timeout:.0f} s: the library is busy or no worker is "
                        "running; your request stays in line, ask again later to get its answer"
                    )
                pause = self.poll_s if remaining is None else min(self.poll_s, remaining)
                with contextlib.suppress(TimeoutError):  # no notice: look at the key again
                    await asyncio.wait_for(event.wait(), pause)
        finally:
            self._events[job_id].discard(event)
            if not self._events[job_id]:
                del self._events[job_id]
                self._jobs.pop(job_id, None)

    async def position(self, job_id: str) -> int:
        """0: being read; n: about the n-th in line (never fewer jobs ahead than that: jobs
        cancelled ahead still count); -1: not queued (answered, cancelled or unknown)."""
        return int(await self._retrying(lambda: self._position_now(job_id)))

    async def withdraw(self, job_id: str, requester: str) -> str:
        """Withdraw the requester's own job if no worker is reading it, or if it is a find being
        run: WITHDRAWN, or why not (NOT_QUEUED, NOT_YOURS, BEING_READ), for the front end to say
        what is true.

        A job others are also waiting for keeps its place for them; the requester stops being
        one of its waiters. A job nobody else waits for leaves the queue and its waiters get a
        CANCELLED result; a find being run is stopped by its worker at its next step, which
        answers CANCELLED.
        """
        job = self._jobs.get(job_id)
        cancelled = Result.failure(
            job_id, job, CANCELLED, "cancelled before a worker took it", finished_at=time.time()
        )
        code = await self._retrying(
            lambda: self._cancel(
                keys=keys.answering(job_id),
                args=[
                    keys.GROUP,
                    requester,
                    job_id,
                    cancelled.to_json(),
                    keys.ERROR_TTL_S,
                    keys.RESULTS_MAXLEN,
                    HAND_BACK_IDLE_MS,
                ],
            )
        )
        outcome = _CANCEL_CODES[int(code)]
        if outcome == BEING_READ and await self._retrying(
            lambda: self._cancel_running(
                keys=[keys.inflight(job_id), keys.waiters(job_id), keys.JOBS, keys.cancel(job_id)],
                args=[keys.GROUP, requester, keys.ERROR_TTL_S],
            )
        ):
            outcome = WITHDRAWN  # a find: its worker stops at the next step, answers CANCELLED
        if outcome == WITHDRAWN:
            self._jobs.pop(job_id, None)
        return outcome

    async def cancel(self, job_id: str, requester: str) -> bool:
        """`withdraw`, as True when the job was withdrawn."""
        return await self.withdraw(job_id, requester) == WITHDRAWN

    async def request(
        self,
        job: Job,
        requester: str,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        resubmit: int = 0,
        server: str = "",
    ) -> Result:
        """Submit and wait: the job's answer, with the requester's own job in `result.job`.

        With `resubmit` > 0, a job the queue lost (JobLost: Redis lost its data) is submitted
        again, up to that many times, within the same timeout.
        """
        start = time.perf_counter()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        for attempt in range(resubmit + 1):
            ticket = await self.submit(job, requester, server)
            if ticket.cached is not None:
                result = ticket.cached
                break
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                result = await self.wait(ticket.job_id, left, on_progress)
                break
            except JobLost:
                if attempt == resubmit:
                    raise
                log.warning("job %s was lost by the queue; submitting it again", job.id)
        metrics.JOB_SECONDS.labels(job.kind, result.cache).observe(time.perf_counter() - start)
        return replace(result, job=job)

    async def workers_alive(self) -> int:
        """Workers that sent a heartbeat within keys.HEARTBEAT_TTL_S."""
        since = time.time() - keys.HEARTBEAT_TTL_S
        return int(await self._retrying(lambda: self.r.zcount(keys.WORKERS, since, "+inf")))

    async def close(self) -> None:
        """Stop the listener (the Redis client belongs to the caller)."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    # -- internals

    async def _retrying(self, call):
        """Await call(), retried on connection errors; QueueUnreachable when Redis stays away."""
        for delay in (*RETRY_DELAYS_S, None):
            try:
                value = await call()
                self._up()
                return value
            except REDIS_DOWN as e:
                if delay is None:
                    raise QueueUnreachable() from e
                log.debug("Redis unreachable (%s); retrying in %.2f s", e, delay)
                await asyncio.sleep(delay)
            except redis.ResponseError as e:
                if "OOM" not in str(e):
                    raise
                raise QueueUnreachable(
                    "the library's queue is full right now; try again in a few minutes"
                ) from e

    def _down(self, e: Exception) -> None:
        """Log an outage once, when it starts (every waiting request rides it out)."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "Redis unreachable (%s); %d waiting requests ride it out", e, len(self._events)
            )

    def _up(self) -> None:
        """Log the end of an outage, once."""
        if self._down_since is not None:
            log.warning("Redis reachable again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None

    async def _has_waitaof(self) -> bool:
        """Whether submissions wait for the fsync (WAITAOF): Redis 7.2+ with the AOF on."""
        try:
            info = await self.r.info("server")
            version = tuple(int(p) for p in _text(info.get("redis_version", "0.0")).split(".")[:2])
            aof = int((await self.r.info("persistence")).get("aof_enabled", 0)) == 1
        except (redis.ResponseError, ValueError) as e:  # INFO renamed or refused (managed Redis)
            log.warning("cannot tell whether this Redis has WAITAOF (%s); not waiting for it", e)
            return False
        if version >= WAITAOF_VERSION and aof:
            return True
        log.info(
            "job submissions rely on the server's appendfsync setting (Redis %s, AOF %s)",
            ".".join(map(str, version)),
            "on" if aof else "off",
        )
        return False

    async def _ensure_group(self) -> None:
        """The consumer group from id 0, so jobs queued before any worker starts are read."""
        try:
            await self.r.xgroup_create(keys.JOBS, keys.GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    async def _position_now(self, job_id: str) -> int:
        return int(
            await self._position(
                keys=[keys.inflight(job_id), keys.JOBS], args=[keys.GROUP, HAND_BACK_IDLE_MS]
            )
        )

    async def _progress(self, job_id: str) -> Progress:
        position = await self._position_now(job_id)
        since = time.time() - keys.HEARTBEAT_TTL_S
        workers = int(await self.r.zcount(keys.WORKERS, since, "+inf"))
        job = self._jobs.get(job_id)
        if position != 0 or (job is not None and job.kind != FIND):
            return Progress(job_id, position, workers)
        report = {
            _text(k): _text(v) for k, v in (await self.r.hgetall(keys.progress(job_id))).items()
        }
        if not report:
            return Progress(job_id, position, workers)
        return Progress(
            job_id,
            position,
            workers,
            step=int(report.get("step", 0)),
            steps=int(report.get("steps", 0)),
            loss=float(report["loss"]) if "loss" in report else None,
            right=int(report.get("right", 0)),
            pairs=int(report.get("pairs", 0)),
        )

    async def _listen(self) -> None:
        """Start the notice listener if it is not running, from the stream's current end."""
        if self._listener is not None and not self._listener.done():
            return
        try:
            last = await self.r.xrevrange(keys.RESULTS, count=1)
            self._last_notice = _text(last[0][0]) if last else "0-0"
        except REDIS_DOWN:
            pass  # the waiter's own polling reports Redis being down
        self._listener = asyncio.create_task(self._follow_notices(), name="babel-results")

    async def _follow_notices(self) -> None:
        while self._events:
            try:
                reply = await self.r.xread({keys.RESULTS: self._last_notice}, count=100, block=1000)
            except REDIS_DOWN as e:
                log.debug("results listener: %s", e)
                await asyncio.sleep(0.5)
                continue
            for _, entries in reply or []:
                for entry, fields in entries:
                    self._last_notice = _text(entry)
                    fields = {_text(k): _text(v) for k, v in fields.items()}
                    for event in self._events.get(fields.get("id", ""), ()):
                        event.set()
