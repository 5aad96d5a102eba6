"""The worker: take jobs from the queue, build and read their volumes, store the answers.

    worker = Worker(settings, url)        # url: RedisTarget.url
    worker.run()                          # until stop() (or SIGTERM/SIGINT under `shelf worker`)
    thread = worker.start_thread()        # or in the background, as the console does

Each turn the worker reclaims jobs of silent workers (XAUTOCLAIM, every claim_idle_s / 2),
tops the batch up with new jobs (XREADGROUP, at most settings.worker_batch), dead-letters jobs
delivered more than settings.max_deliveries times, and reads the rest grouped by edition and
address (`read_batch`: the one place a batch is read). A background thread beats: it records
the worker in `keys.WORKERS`, resets the idle time of the jobs in hand so nobody reclaims them,
and answers a job that runs past settings.job_timeout_s with a timeout error. Any error on one
job (out of memory included) answers that job only. A lost Redis is waited for; answers made
meanwhile are kept and stored when it is back. docs/worker.md has the whole flow.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import redis

from . import keys, metrics
from .cache import RedisWeights, VolumeLRU, measure_weights_tier, weights_tier_on
from .edition import get_edition
from .errors import LibraryError
from .jobs import FAILED, MEMORY, MISS, REFUSED, TIMEOUT, VOLUME, WEIGHTS, Job, Result
from .queue import Delivery, Queue
from .settings import Settings

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)
HAND_BACK_IDLE_MS = 10**9  # an entry handed back looks long idle: the next reclaim takes it
FORGET_CONSUMERS_MS = 3_600_000  # consumers idle this long with nothing pending are removed
_numbers = itertools.count()
_IMPORT_LOCK = threading.Lock()


def default_name(settings: Settings) -> str:
    if settings.worker_name:
        return settings.worker_name
    n = next(_numbers)
    return f"{socket.gethostname()}-{os.getpid()}" + (f"-{n}" if n else "")


class Worker:
    """One worker: one Redis consumer, one Reader per edition, its own volume cache.

    `before_job`, if given, is called with each job just before it is read (tests use it to
    make a job slow or to crash the process in a controlled way).
    """

    def __init__(
        self,
        settings: Settings,
        url: str,
        *,
        name: str | None = None,
        device: str | None = None,
        before_job: Callable[[Job], None] | None = None,
        exit_on_hang: bool = False,
    ):
        self.settings = settings
        self.url = url
        self.name = name or default_name(settings)
        self.device = device or settings.device
        self.before_job = before_job
        self.exit_on_hang = exit_on_hang
        self.claim_idle_ms = int(settings.claim_idle_s * 1000)
        self.volumes = VolumeLRU(settings.volume_cache_mb * 2**20)
        self.answered = 0  # jobs this worker answered (its answer was the one stored)
        self._readers: dict[str, object] = {}  # edition id -> Reader
        self._weights: dict[str, RedisWeights | None] = {}  # edition id -> tier, if on
        self._loaded: dict[str, str] = {}  # edition id -> address now in its reader
        self._stop = threading.Event()
        self._hand = threading.Lock()
        self._in_hand: list[str] = []  # entries of the batch being read
        self._current: tuple[Delivery, float] | None = None  # job being read, since when
        self._timed_out: set[str] = set()
        self._unsaved: list[tuple[Delivery, Result]] = []
        self.r = redis.Redis.from_url(url)
        self.queue = Queue(self.r, self.name, settings.reading_ttl_s)

    # -- running

    def run(self) -> None:
        """Serve jobs until `stop()`; jobs in hand are finished or handed back."""
        log.info("worker %s on %s serving %s", self.name, self.device, self.url)
        beat = threading.Thread(target=self._beat, name=f"{self.name}-heartbeat", daemon=True)
        beat.start()
        next_reclaim, backoff, joined = 0.0, 0.1, False
        try:
            while not self._stop.is_set():
                try:
                    if not joined:
                        self.queue.ensure_group()
                        joined = True
                    self._store_unsaved()
                    batch: list[Delivery] = []
                    if time.monotonic() >= next_reclaim:
                        batch = self._reclaim()
                        next_reclaim = time.monotonic() + self.settings.claim_idle_s / 2
                    room = self.settings.worker_batch - len(batch)
                    if room > 0 and not self._stop.is_set():
                        batch += self.queue.read_new(room, None if batch else 1000)
                    if batch:
                        self._process(batch)
                    backoff = 0.1
                except REDIS_DOWN as e:
                    log.warning("worker %s: Redis unreachable (%s); retrying", self.name, e)
                    self._stop.wait(backoff)
                    backoff = min(2.0, backoff * 2)
                except redis.ResponseError as e:
                    if "NOGROUP" not in str(e):
                        raise
                    log.warning("worker %s: the queue was reset; joining it again", self.name)
                    self.queue.ensure_group()
        finally:
            self._stop.set()
            beat.join(timeout=5)
            self._leave()

    def stop(self) -> None:
        """Finish the job being read, hand the rest of the batch back, then return from run()."""
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (for an in-process worker); stop() ends it."""
        thread = threading.Thread(target=self.run, name=f"worker-{self.name}", daemon=True)
        thread.start()
        return thread

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop gracefully; a second one interrupts the job being read."""

        def handler(signum, frame):
            if self._stop.is_set():
                raise KeyboardInterrupt
            log.info("worker %s: stopping after the job in hand", self.name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def warm_up(self, edition: str) -> None:
        """Build the edition's reader now, so the first job does not pay for it."""
        self._reader(get_edition(edition).id)

    # -- a batch

    def _reclaim(self) -> list[Delivery]:
        claimed = self.queue.reclaim(self.claim_idle_ms, self.settings.worker_batch)
        for d in claimed:
            log.warning(
                "worker %s took over job %s (delivery %d)", self.name, d.job_id, d.deliveries
            )
        return claimed

    def _process(self, batch: list[Delivery]) -> None:
        todo = []
        for d in batch:
            if d.deliveries > self.settings.max_deliveries:
                self.queue.dead_letter(d, self.settings.max_deliveries)
                metrics.ERRORS.labels("dead-letter").inc()
            elif d.job is None:
                self._store(d, Result.failure(d.job_id, None, FAILED, "this request is unreadable"))
            else:
                todo.append(d)
        with self._hand:
            self._in_hand = [d.entry for d in todo]
        try:
            by_edition: dict[str, list[Delivery]] = {}
            for d in todo:
                by_edition.setdefault(d.job.edition, []).append(d)
            for edition_id, group in by_edition.items():
                group.sort(key=lambda d: d.job.address)  # one build per volume
                for d, result in self.read_batch(edition_id, group):
                    self._store(d, result)
        finally:
            with self._hand:
                left, self._in_hand = self._in_hand, []
            if left:
                log.info("worker %s hands back %d jobs", self.name, len(left))
                try:
                    self.queue.touch(left, hand_back=True, idle_ms=HAND_BACK_IDLE_MS)
                except REDIS_DOWN:
                    log.warning("could not hand back %d jobs; they will be reclaimed", len(left))

    def read_batch(self, edition_id: str, group: list[Delivery]):
        """Read the jobs of one edition, sorted by address; yields (delivery, result).

        The one place a batch is read. Today it reads the jobs one after another on the
        edition's reader; a batched reader (several volumes in one forward pass) plugs in here.
        Stops early, leaving the rest in hand (to be handed back), when the worker is stopping.
        """
        for d in group:
            if self._stop.is_set():
                return
            yield d, self._read_one(edition_id, d)

    def _read_one(self, edition_id: str, d: Delivery) -> Result:
        job, start = d.job, time.perf_counter()
        self._current = (d, start)
        queued = max(0.0, time.time() - d.queued_at) if d.queued_at else 0.0
        try:
            if self.before_job is not None:
                self.before_job(job)
            reader = self._reader(edition_id)
            how, build_s = self._load(reader, job)
            reading = reader.read_built(job.prompt, job.max_tokens)
            return Result(
                d.job_id,
                job,
                True,
                text=reading.text,
                token_ids=list(reading.token_ids),
                fingerprint=reading.fingerprint,
                stopped_at_eos=reading.stopped_at_eos,
                worker=self.name,
                device=self.device,
                cache=how,
                timings={
                    "queued": round(queued, 4),
                    "build": round(build_s, 4),
                    "read": reading.seconds,
                    "total": round(time.perf_counter() - start, 4),
                },
                finished_at=time.time(),
            )
        except LibraryError as e:
            return self._failure(d, REFUSED, str(e))
        except Exception as e:
            if _out_of_memory(e):
                log.error("worker %s ran out of memory on job %s", self.name, d.job_id)
                self._free_memory()
                return self._failure(
                    d,
                    MEMORY,
                    "the worker ran out of memory reading this volume; try fewer tokens or a "
                    "shorter prompt",
                )
            log.exception("worker %s failed on job %s", self.name, d.job_id)
            return self._failure(
                d, FAILED, f"the worker failed while reading this volume ({type(e).__name__})"
            )
        finally:
            self._current = None

    def _failure(self, d: Delivery, kind: str, message: str) -> Result:
        metrics.ERRORS.labels(kind).inc()
        return Result.failure(
            d.job_id,
            d.job,
            kind,
            message,
            worker=self.name,
            device=self.device,
            finished_at=time.time(),
        )

    def _load(self, reader, job: Job) -> tuple[str, float]:
        """Put the job's volume into the reader; (how it got there, seconds it took)."""
        edition_id, start = reader.edition.id, time.perf_counter()
        key = (edition_id, job.address)
        if self._loaded.get(edition_id) == job.address:
            metrics.CACHE.labels("volume", "hit").inc()
            return VOLUME, 0.0
        self._loaded.pop(edition_id, None)
        weights = self._weights.get(edition_id)
        flat = reader.builder.flat
        if self.volumes.restore(key, flat):
            how = VOLUME
        elif weights is not None and _quietly(weights.fetch, edition_id, job.address, flat):
            how = WEIGHTS
        else:
            from .address import parse_address

            reader.builder.build(parse_address(job.address))
            metrics.VOLUMES_BUILT.labels(edition_id).inc()
            how = MISS
            if weights is not None:
                _quietly(weights.store, edition_id, job.address, flat)
        if how != VOLUME:
            self.volumes.put(key, flat)
        self._loaded[edition_id] = job.address
        return how, time.perf_counter() - start

    def _reader(self, edition_id: str):
        reader = self._readers.get(edition_id)
        if reader is None:
            from .read import Reader

            with _IMPORT_LOCK:  # transformers' lazy imports are not safe from two threads at once
                reader = Reader(get_edition(edition_id), self.device)
            self._readers[edition_id] = reader
            self._weights[edition_id] = self._weights_tier(reader)
        return reader

    def _weights_tier(self, reader) -> RedisWeights | None:
        setting = self.settings.weights_in_redis
        build_s = fetch_s = None
        if setting.strip().lower() == "auto":
            build_s, fetch_s = measure_weights_tier(reader, self.r)
            self._loaded.pop(reader.edition.id, None)
        on = weights_tier_on(setting, build_s, fetch_s)
        log.info(
            "worker %s, %s: weights in Redis %s (setting %s; build %s s, fetch %s s)",
            self.name,
            reader.edition.id,
            "on" if on else "off",
            setting,
            build_s and f"{build_s:.4f}",
            fetch_s and f"{fetch_s:.4f}",
        )
        if not on:
            return None
        return RedisWeights(
            self.r, self.settings.redis_weights_mb * 2**20, self.settings.reading_ttl_s
        )

    def _free_memory(self) -> None:
        self.volumes.clear()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    # -- answers

    def _store(self, d: Delivery, result: Result) -> None:
        with self._hand:
            if d.entry in self._in_hand:
                self._in_hand.remove(d.entry)
        try:
            self._finish(d, result)
        except REDIS_DOWN:
            log.warning(
                "worker %s: keeping the answer to %s until Redis is back", self.name, d.job_id
            )
            self._unsaved.append((d, result))

    def _store_unsaved(self) -> None:
        while self._unsaved:
            d, result = self._unsaved[0]
            self._finish(d, result)
            self._unsaved.pop(0)

    def _finish(self, d: Delivery, result: Result) -> None:
        if self.queue.finish(d, result):
            self.answered += 1
            if d.queued_at:
                kind = d.job.kind if d.job else "unknown"
                metrics.JOB_SECONDS.labels(kind, result.cache).observe(time.time() - d.queued_at)
        else:
            log.info("job %s was already answered; this answer is dropped", d.job_id)

    # -- the heartbeat thread

    def _beat(self) -> None:
        r = redis.Redis.from_url(self.url)
        queue = Queue(r, self.name, self.settings.reading_ttl_s)
        every = max(0.05, min(5.0, self.settings.claim_idle_s / 3))
        while True:
            try:
                self._beat_once(r, queue)
            except REDIS_DOWN as e:
                log.debug("heartbeat: %s", e)
            except Exception:
                log.exception("heartbeat of worker %s failed", self.name)
            if self._stop.wait(every):
                break
        r.close()

    def _beat_once(self, r: redis.Redis, queue: Queue) -> None:
        now = time.time()
        with self._hand:
            in_hand = list(self._in_hand)
        current = self._current
        pipe = r.pipeline(transaction=False)
        pipe.zadd(keys.WORKERS, {self.name: now})
        pipe.zremrangebyscore(keys.WORKERS, "-inf", now - 24 * 3600)
        pipe.hset(
            keys.worker(self.name),
            mapping={
                "device": self.device,
                "beat": now,
                "answered": self.answered,
                "in_hand": len(in_hand),
                "current": current[0].job_id if current else "",
            },
        )
        pipe.expire(keys.worker(self.name), keys.HEARTBEAT_TTL_S)
        pipe.xlen(keys.JOBS)
        pipe.zcount(keys.WORKERS, now - keys.HEARTBEAT_TTL_S, "+inf")
        *_, depth, alive = pipe.execute()
        metrics.QUEUE_DEPTH.set(depth)
        metrics.WORKERS_ALIVE.set(alive)
        queue.touch(in_hand)
        if current is not None:
            self._watch(queue, *current)

    def _watch(self, queue: Queue, d: Delivery, since: float) -> None:
        """Answer a job past its time limit; end a process whose read never returns."""
        running = time.perf_counter() - since
        limit = self.settings.job_timeout_s
        if running > limit and d.entry not in self._timed_out:
            self._timed_out.add(d.entry)
            log.error("job %s ran past %g s; answering it with a timeout", d.job_id, limit)
            queue.finish(
                d,
                self._failure(
                    d,
                    TIMEOUT,
                    f"reading this volume took longer than {limit:g} s; try fewer tokens",
                ),
            )
        if self.exit_on_hang and running > 2 * limit + 30:
            log.critical("worker %s is stuck on job %s; exiting", self.name, d.job_id)
            os._exit(70)

    def _leave(self) -> None:
        try:
            self.r.zrem(keys.WORKERS, self.name)
            self.r.delete(keys.worker(self.name))
        except REDIS_DOWN:
            pass
        self.r.close()
        log.info("worker %s stopped after %d answers", self.name, self.answered)


def _quietly(call, *args) -> bool:
    """A weights-tier call whose Redis trouble (down, or full) counts as a miss."""
    try:
        return call(*args)
    except (redis.RedisError, OSError) as e:
        log.warning("weights tier unavailable (%s); building instead", e)
        return False


def beating_here(r: redis.Redis, settings: Settings) -> bool:
    """Whether this host's worker (or the one named BABEL_WORKER_NAME) beat recently."""
    since = time.time() - keys.HEARTBEAT_TTL_S
    names = [_text(n) for n in r.zrangebyscore(keys.WORKERS, since, "+inf")]
    if settings.worker_name:
        return settings.worker_name in names
    return any(n.startswith(socket.gethostname() + "-") for n in names)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _out_of_memory(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    try:
        import torch

        return isinstance(e, torch.cuda.OutOfMemoryError)
    except ImportError:
        return False
