"""The front end's side of the queue: submit a job, follow it, get its one answer.

    client = LibraryClient(redis.asyncio.Redis.from_url(url), settings)
    result = await client.request(Job.read("babel-w3-s2-v17"), requester="user:42")

Answers are durable: a worker stores each answer under the job's result key before it
acknowledges the job, and posts a notice on the results stream. One listener task per client
follows that stream (XREAD BLOCK) and wakes the coroutines waiting for those jobs; each waiter
also re-reads the result key every `poll_s`, so a missed notice costs at most that long.
Redis being down surfaces as one `QueueUnreachable` with a plain message; a Redis restart
while a job waits is ridden out until the timeout (the job and its answer survive it).
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
from .queue import CANCEL, CANCEL_RUNNING, ENQUEUE, POSITION
from .redis_conn import QueueUnreachable
from .settings import Settings

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)
RETRY_DELAYS_S = (0.05, 0.25, 1.0)  # a stale connection or a restarting Redis gets these
DEFAULT_TIMEOUT_S = 600.0


class AnswerTimeout(LibraryError, TimeoutError):
    """No answer within the time the caller would wait (the job itself stays queued)."""


class JobLost(LibraryError):
    """The job is neither queued nor answered (Redis lost it, or its answer expired)."""


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

    # -- the API

    async def submit(self, job: Job, requester: str) -> Ticket:
        """Queue the job (or join an identical one in flight, or find its stored reading)."""

        async def enqueue():
            if not self._group_ready:
                await self._ensure_group()
            return await self._enqueue(
                keys=[keys.result(job.id), keys.inflight(job.id), keys.waiters(job.id), keys.JOBS],
                args=[job.id, job.to_json(), requester, time.time()],
            )

        state, value = await self._retrying(enqueue)  # ENQUEUE is idempotent: safe to repeat
        state = _text(state)
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
        down_since: float | None = None
        next_poll = 0.0
        try:
            await self._listen()
            while True:
                event.clear()
                try:
                    raw = await self.r.get(keys.result(job_id))
                    if raw is not None:
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
                    down_since = None
                except REDIS_DOWN as e:
                    log.warning("waiting for job %s: Redis unreachable (%s)", job_id, e)
                    down_since = down_since or loop.time()
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    if down_since is not None:
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
        """0: being read; n: n-th in line; -1: not queued (answered, cancelled or unknown)."""
        return int(
            await self._retrying(
                lambda: self._position(keys=[keys.inflight(job_id), keys.JOBS], args=[keys.GROUP])
            )
        )

    async def cancel(self, job_id: str, requester: str) -> bool:
        """Withdraw the requester's own job if no worker has taken it yet, or if it is a find
        being run; True if withdrawn.

        A job others are also waiting for keeps its place for them; the requester stops being
        one of its waiters. A job nobody else waits for leaves the queue and its waiters get a
        CANCELLED result; a find being run is stopped by its worker at its next step, which
        answers CANCELLED.
        """
        job = self._jobs.get(job_id)
        cancelled = Result.failure(
            job_id, job, CANCELLED, "cancelled before a worker took it", finished_at=time.time()
        )
        done = await self._retrying(
            lambda: self._cancel(
                keys=keys.answering(job_id),
                args=[
                    keys.GROUP,
                    requester,
                    job_id,
                    cancelled.to_json(),
                    keys.ERROR_TTL_S,
                    keys.RESULTS_MAXLEN,
                ],
            )
        )
        if not done:
            done = await self._retrying(
                lambda: self._cancel_running(
                    keys=[
                        keys.inflight(job_id),
                        keys.waiters(job_id),
                        keys.JOBS,
                        keys.cancel(job_id),
                    ],
                    args=[keys.GROUP, requester, keys.ERROR_TTL_S],
                )
            )
        if done:
            self._jobs.pop(job_id, None)
        return bool(done)

    async def request(
        self,
        job: Job,
        requester: str,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_S,
    ) -> Result:
        """Submit and wait: the job's answer, with the requester's own job in `result.job`."""
        start = time.perf_counter()
        ticket = await self.submit(job, requester)
        result = ticket.cached or await self.wait(ticket.job_id, timeout, on_progress)
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
                return await call()
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

    async def _ensure_group(self) -> None:
        """The consumer group from id 0, so jobs queued before any worker starts are read."""
        try:
            await self.r.xgroup_create(keys.JOBS, keys.GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    async def _progress(self, job_id: str) -> Progress:
        position = int(
            await self._position(keys=[keys.inflight(job_id), keys.JOBS], args=[keys.GROUP])
        )
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
