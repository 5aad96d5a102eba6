"""The worker: take jobs from the queue, build and read their volumes, store the answers.

    worker = Worker(settings, url)        # url: RedisTarget.url
    worker.run()                          # until stop() (or SIGTERM/SIGINT under `shelf worker`)
    thread = worker.start_thread()        # or in the background, as the console does

Each turn the worker reclaims jobs of silent workers (XAUTOCLAIM, every claim_idle_s / 2),
tops the batch up with new jobs (XREADGROUP, at most settings.worker_batch), dead-letters jobs
delivered more than settings.max_deliveries times, and reads the rest grouped by edition
(`read_batch`: the one place readings are read; several volumes on one prompt are read together
by a FastReader). A turn holds at most one hunt job (docs/hunting.md): a hunt job is taken
alone, and any further hunt job pulled is handed back at once, where an idle worker, which
looks for handed-back jobs every turn, takes it; so several workers share a long hunt. A
background thread beats: it records the worker in `keys.WORKERS`, resets the idle time of the
jobs in hand so nobody reclaims them, and answers a job that runs past settings.job_timeout_s
with a timeout error. Any error on one job (out of memory included) answers that job only. A
lost Redis is waited for; answers made meanwhile are kept and stored when it is back. With
BABEL_EXPEDITIONS=on an idle worker hunts on its own and posts promising volumes for review
(docs/hunting.md, "Expeditions"). docs/worker.md has the whole flow.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

import redis

from . import keys, metrics
from .cache import RedisWeights, VolumeLRU, measure_weights_tier, weights_tier_on
from .edition import get_edition
from .errors import LibraryError
from .jobs import (
    FAILED,
    HUNT,
    HUNT_CHUNK,
    HUNT_TOP_CAP,
    MEMORY,
    MISS,
    REFUSED,
    SEED_LIMIT,
    TIMEOUT,
    VOLUME,
    WEIGHTS,
    Job,
    Result,
)
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
        self.expeditions = settings.expeditions.strip().lower() in ("on", "yes", "true", "1")
        self.volumes = VolumeLRU(settings.volume_cache_mb * 2**20)
        self.answered = 0  # jobs this worker answered (its answer was the one stored)
        self._readers: dict[str, object] = {}  # edition id -> Reader
        self._fast: dict[str, object] = {}  # edition id -> FastReader (worker_batch volumes)
        self._weights: dict[str, RedisWeights | None] = {}  # edition id -> tier, if on
        self._loaded: dict[str, str] = {}  # edition id -> address now in its reader
        self._stop = threading.Event()
        self._hand = threading.Lock()
        self._in_hand: list[str] = []  # entries of the batch being read
        self._current: tuple[list[Delivery], float] | None = None  # jobs being read, since when
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
        next_reclaim, backoff, joined, look = 0.0, 0.1, False, False
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
                    elif look:  # idle, or just handed jobs back: take any handed back
                        batch = self.queue.reclaim(self.claim_idle_ms, self.settings.worker_batch)
                    room = self.settings.worker_batch - len(batch)
                    if room > 0 and not self._stop.is_set():
                        batch += self._take_new(room, None if batch else 1000)
                    batch, handed_back = self._one_hunt_job(batch)
                    look = handed_back or not batch
                    if batch:
                        self._process(batch)
                    elif self.expeditions and not self._stop.is_set():
                        self._expedition()
                    backoff = 0.1
                except REDIS_DOWN as e:
                    log.warning("worker %s: Redis unreachable (%s); retrying", self.name, e)
                    self._stop.wait(backoff)
                    backoff = min(2.0, backoff * 2)
                except redis.ResponseError as e:
                    if "NOGROUP" in str(e):
                        log.warning("worker %s: the queue was reset; joining it again", self.name)
                        joined = False
                        continue
                    log.error("worker %s: Redis refused a command (%s); retrying", self.name, e)
                    self._stop.wait(2.0)
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

    def _take_new(self, room: int, block_ms: int | None) -> list[Delivery]:
        """New jobs: one (waiting up to block_ms), then, when it is a reading, up to room - 1
        more without waiting. A hunt job comes alone: the rest of its hunt stays for others."""
        taken = self.queue.read_new(1, block_ms)
        if taken and room > 1 and not _is_hunt(taken[0]):
            taken += self.queue.read_new(room - 1, None)
        return taken

    def _one_hunt_job(self, batch: list[Delivery]) -> tuple[list[Delivery], bool]:
        """The batch with at most one hunt job; the others are handed back at once."""
        hunts = [d for d in batch if _is_hunt(d)]
        if len(hunts) <= 1:
            return batch, False
        extra = {d.entry for d in hunts[1:]}
        self.queue.touch(sorted(extra), hand_back=True, idle_ms=HAND_BACK_IDLE_MS)
        log.debug("worker %s hands back %d hunt jobs for other workers", self.name, len(extra))
        return [d for d in batch if d.entry not in extra], True

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
                if d.job.kind != HUNT:
                    by_edition.setdefault(d.job.edition, []).append(d)
            for edition_id, group in by_edition.items():
                group.sort(key=lambda d: d.job.address)  # one build per volume
                for d, result in self.read_batch(edition_id, group):
                    self._store(d, result)
            for d in todo:
                if d.job.kind == HUNT and not self._stop.is_set():
                    self._store(d, self._hunt(d))
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

        The one place readings are read. A job whose volume is already in this worker's memory
        (the reader's volume, or the LRU) is read alone on the edition's Reader, with no build.
        The others are grouped by (prompt, max_tokens): two or more volumes on one request are
        built and read together by the edition's FastReader, worker_batch at a time (the same
        readings, bit for bit: tests/test_fastread.py); a lone one is read alone. Stops early,
        leaving the rest in hand (to be handed back), when the worker is stopping.
        """
        alone, together = [], {}
        for d in group:
            key = (edition_id, d.job.address)
            if self._loaded.get(edition_id) == d.job.address or key in self.volumes:
                alone.append(d)
            else:
                together.setdefault((d.job.prompt, d.job.max_tokens), []).append(d)
        bundles = []
        for same in together.values():
            if len(same) == 1:
                alone += same
            else:
                size = self.settings.worker_batch
                bundles += [same[i : i + size] for i in range(0, len(same), size)]
        for d in alone:
            if self._stop.is_set():
                return
            yield d, self._read_one(edition_id, d)
        for bundle in bundles:
            if self._stop.is_set():
                return
            yield from zip(bundle, self._read_together(edition_id, bundle), strict=True)

    def _read_one(self, edition_id: str, d: Delivery) -> Result:
        job, start = d.job, time.perf_counter()
        self._current = ([d], start)
        try:
            if self.before_job is not None:
                self.before_job(job)
            reader = self._reader(edition_id)
            how, build_s = self._load(reader, job)
            reading = reader.read_built(job.prompt, job.max_tokens)
            return self._reading(d, reading, how, build_s, reading.seconds, start, 1)
        except Exception as e:
            return self._failed([d], e)[0]
        finally:
            self._current = None

    def _read_together(self, edition_id: str, bundle: list[Delivery]) -> list[Result]:
        """Build the bundle's volumes side by side and read them in one pass."""
        from .address import parse_address

        start = time.perf_counter()
        self._current = (bundle, start)
        job = bundle[0].job
        try:
            if self.before_job is not None:
                for d in bundle:
                    self.before_job(d.job)
            fast = self._fast_reader(edition_id)
            fast.build([parse_address(d.job.address) for d in bundle])
            metrics.VOLUMES_BUILT.labels(edition_id).inc(len(bundle))
            built = time.perf_counter()
            readings = fast.read_built(job.prompt, job.max_tokens)
            n, read_s = len(bundle), time.perf_counter() - built
            return [
                self._reading(d, reading, MISS, (built - start) / n, read_s / n, start, n)
                for d, reading in zip(bundle, readings, strict=True)
            ]
        except Exception as e:
            return self._failed(bundle, e)
        finally:
            self._current = None

    def _reading(self, d, reading, how, build_s, read_s, start, batch) -> Result:
        queued = max(0.0, time.time() - d.queued_at) if d.queued_at else 0.0
        return Result(
            d.job_id,
            d.job,
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
                "read": round(read_s, 4),
                "total": round(time.perf_counter() - start, 4),
                "batch": batch,
            },
            finished_at=time.time(),
        )

    def _hunt(self, d: Delivery) -> Result:
        """A hunt job: its volumes read by the edition's FastReader, the best kept."""
        from .hunt import read_job

        job, start = d.job, time.perf_counter()
        self._current = ([d], start)
        queued = max(0.0, time.time() - d.queued_at) if d.queued_at else 0.0
        try:
            if self.before_job is not None:
                self.before_job(job)
            found = read_job(self._fast_reader(job.edition), job)
            metrics.VOLUMES_BUILT.labels(job.edition).inc(job.volumes)
            self._keep_readings(job, found)
            return Result(
                d.job_id,
                job,
                True,
                worker=self.name,
                device=self.device,
                timings={
                    "queued": round(queued, 4),
                    "total": round(time.perf_counter() - start, 4),
                    "volumes": job.volumes,
                },
                finished_at=time.time(),
                candidates=found,
            )
        except Exception as e:
            return self._failed([d], e)[0]
        finally:
            self._current = None

    def _keep_readings(self, hunt: Job, found) -> None:
        """Store each kept volume's reading as the answer to the reading job it equals (unless
        one is stored), so that reading a hunt's find afterwards needs no worker."""
        pipe = self.r.pipeline(transaction=False)
        for c in found:
            job = Job.read(c.address, hunt.prompt, hunt.max_tokens, edition=hunt.edition)
            result = Result(
                job.id,
                job,
                True,
                text=c.text,
                token_ids=c.token_ids,
                fingerprint=c.fingerprint,
                stopped_at_eos=c.stopped_at_eos,
                worker=self.name,
                device=self.device,
                finished_at=time.time(),
            )
            pipe.set(keys.result(job.id), result.to_json(), ex=self.settings.reading_ttl_s, nx=True)
        try:
            pipe.execute()
        except (redis.RedisError, OSError) as e:
            log.warning("worker %s could not keep a hunt's readings (%s)", self.name, e)

    def _expedition(self) -> None:
        """While idle: read worker_batch random volumes of the worker's edition on the default
        prompt, and post those scoring at least settings.expedition_threshold (default
        scorer) to keys.EXPEDITIONS, for a bot to forward to its review channel."""
        from .hunt import read_job

        size = min(self.settings.worker_batch, HUNT_CHUNK)
        edition = get_edition(self.settings.edition).id
        job = Job.hunt(secrets.randbelow(SEED_LIMIT), 0, size, edition=edition, top=HUNT_TOP_CAP)
        try:
            found = read_job(self._fast_reader(edition), job)
        except Exception:
            log.exception("worker %s: an expedition failed", self.name)
            return
        found = [c for c in found if c.score >= self.settings.expedition_threshold]
        if not found:
            return
        self._keep_readings(job, found)
        pipe = self.r.pipeline(transaction=False)
        for c in found:
            find = {**asdict(c), "edition": edition, "prompt": job.prompt, "worker": self.name}
            pipe.xadd(
                keys.EXPEDITIONS,
                {"find": json.dumps(find, ensure_ascii=False)},
                maxlen=keys.EXPEDITIONS_MAXLEN,
                approximate=True,
            )
        pipe.execute()
        log.info("worker %s: an expedition found %d volumes for review", self.name, len(found))

    def _failed(self, deliveries: list[Delivery], e: Exception) -> list[Result]:
        """Error answers for jobs whose reading raised `e` (a refusal, memory, or a bug)."""
        if isinstance(e, LibraryError):
            return [self._failure(d, REFUSED, str(e)) for d in deliveries]
        ids = ", ".join(d.job_id for d in deliveries)
        if _out_of_memory(e):
            log.error("worker %s ran out of memory on job(s) %s", self.name, ids)
            self._free_memory()
            message = (
                "the worker ran out of memory reading this volume; try fewer tokens or a "
                "shorter prompt"
            )
            return [self._failure(d, MEMORY, message) for d in deliveries]
        log.error("worker %s failed on job(s) %s", self.name, ids, exc_info=e)
        message = f"the worker failed while reading this volume ({type(e).__name__})"
        return [self._failure(d, FAILED, message) for d in deliveries]

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

    def _fast_reader(self, edition_id: str):
        fast = self._fast.get(edition_id)
        if fast is None:
            with _IMPORT_LOCK:
                from .fastread import FastReader

                fast = FastReader(get_edition(edition_id), self.settings.worker_batch, self.device)
            self._fast[edition_id] = fast
        return fast

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
        self._fast.clear()
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
        self._timed_out.discard(d.entry)
        try:
            self._finish(d, result)
        except (redis.RedisError, OSError) as e:  # down, or refusing writes (out of memory)
            log.warning("worker %s: keeping the answer to %s for now (%s)", self.name, d.job_id, e)
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
                "current": current[0][0].job_id if current else "",
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

    def _watch(self, queue: Queue, deliveries: list[Delivery], since: float) -> None:
        """Answer jobs past their time limit; end a process whose read never returns."""
        running = time.perf_counter() - since
        limit = self.settings.job_timeout_s
        for d in deliveries:
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
            log.critical("worker %s is stuck on job %s; exiting", self.name, deliveries[0].job_id)
            os._exit(70)

    def _leave(self) -> None:
        try:
            self.r.zrem(keys.WORKERS, self.name)
            self.r.delete(keys.worker(self.name))
        except REDIS_DOWN:
            pass
        self.r.close()
        log.info("worker %s stopped after %d answers", self.name, self.answered)


def _is_hunt(d: Delivery) -> bool:
    return d.job is not None and d.job.kind == HUNT


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
