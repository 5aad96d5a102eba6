"""A worker's reading desk: its readers, its volume caches, and jobs turned into answers.

The worker (worker.py) moves jobs between Redis and this desk; the desk only reads. It keeps one
`FastReader` per edition, of settings.worker_batch rows, and reads every job with it:

- a reading whose volume is already in memory (row 0 of the reader, or the `VolumeLRU`) is
  read alone, with no build; so is a lone reading, after the caches are asked (the LRU, then
  the weights tier in Redis where it is on) and, on a miss, a build into row 0; a `fresh`
  job asks no cache: its volume is built from the address;
- two or more volumes on one (prompt, max tokens) are built side by side and read together
  (the same readings, bit for bit: tests/test_fastread.py);
- a hunt job's volumes are read together too, with those of the other hunt jobs the worker
  took on the same reading (hunt.read_jobs), and so are an expedition's;
- a page job loads its volume like a lone reading (so a page of a volume just read needs no
  build) and draws the page (page.py) into `Result.png`.

Any error on a job (a refusal, out of memory, a bug) becomes that job's error answer, in words
for the person who asked. Nothing here imports transformers: a worker starts in seconds.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

import redis

from . import keys, metrics
from .address import parse_address
from .cache import RedisWeights, VolumeLRU, weights_tier
from .edition import get_edition
from .errors import LibraryError
from .hunt import read_job, read_jobs
from .jobs import (
    FAILED,
    HUNT_CHUNK,
    HUNT_TOP_CAP,
    MEMORY,
    MISS,
    REFUSED,
    SEED_LIMIT,
    VOLUME,
    WEIGHTS,
    Job,
    Result,
)
from .page import draw_page
from .queue import Delivery, keep_readings
from .settings import Settings, is_on

if TYPE_CHECKING:  # imported on first use: torch and numba load only when a job needs them
    from .fastread import FastReader

log = logging.getLogger(__name__)

_IMPORT_LOCK = threading.Lock()  # torch's lazy imports are not safe from two threads at once


class Desk:
    """Reads a worker's jobs. `current` is (the jobs being read, since when) for the heartbeat."""

    def __init__(
        self,
        settings: Settings,
        r: redis.Redis,
        name: str,
        device: str,
        stop: threading.Event,
        before_job: Callable[[Job], None] | None = None,
    ):
        self.settings = settings
        self.r = r
        self.name = name
        self.device = device
        self.stop = stop
        self.before_job = before_job
        self.volumes = VolumeLRU(settings.volume_cache_mb * 2**20)
        self.current: tuple[list[Delivery], float] | None = None
        self._readers: dict[str, FastReader] = {}
        self._weights: dict[str, RedisWeights | None] = {}  # edition id -> tier, if on
        self._loaded: dict[str, str] = {}  # edition id -> address in row 0 of its reader

    def reader(self, edition_id: str) -> FastReader:
        """The edition's FastReader, made (and the weights tier decided) on first use."""
        fast = self._readers.get(edition_id)
        if fast is None:
            with _IMPORT_LOCK:
                from .fastread import FastReader

                fast = FastReader(
                    get_edition(edition_id),
                    self.settings.worker_batch,
                    self.device,
                    cuda_graphs=is_on(self.settings.cuda_graphs),
                )
            self._readers[edition_id] = fast
            self._weights[edition_id] = weights_tier(self.settings, self.r, fast)
        return fast

    # -- readings

    def read_batch(
        self, edition_id: str, group: list[Delivery]
    ) -> Iterator[tuple[Delivery, Result]]:
        """Read the jobs of one edition, sorted by address; yields (delivery, result).

        The one place readings are read (module docstring). Stops early, leaving the rest in
        hand (the worker hands them back), when the worker is stopping.
        """
        alone, together = [], {}
        for d in group:
            in_memory = self._loaded.get(edition_id) == d.job.address or (
                (edition_id, d.job.address) in self.volumes
            )
            if in_memory and not d.job.fresh:
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
            if self.stop.is_set():
                return
            yield d, self._read_one(edition_id, d)
        for bundle in bundles:
            if self.stop.is_set():
                return
            yield from zip(bundle, self._read_together(edition_id, bundle), strict=True)

    def _read_one(self, edition_id: str, d: Delivery) -> Result:
        job, start = d.job, time.perf_counter()
        self.current = ([d], start)
        try:
            self._before([d])
            fast = self.reader(edition_id)
            how, build_s = self._load(fast, job)
            reading = fast.read_built(job.prompt, job.max_tokens)[0]
            return self._reading(d, reading, how, build_s, reading.seconds, start, 1)
        except Exception as e:
            return self.failed([d], e)[0]
        finally:
            self.current = None

    def _read_together(self, edition_id: str, bundle: list[Delivery]) -> list[Result]:
        """Build the bundle's volumes side by side and read them in one pass."""
        start = time.perf_counter()
        self.current = (bundle, start)
        job = bundle[0].job
        try:
            self._before(bundle)
            fast = self._rows_for(edition_id)
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
            return self.failed(bundle, e)
        finally:
            self.current = None

    def _reading(self, d, reading, how, build_s, read_s, start, batch) -> Result:
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
                "queued": _queued(d),
                "build": round(build_s, 4),
                "read": round(read_s, 4),
                "total": round(time.perf_counter() - start, 4),
                "batch": batch,
            },
            finished_at=time.time(),
        )

    def _before(self, deliveries: list[Delivery]) -> None:
        if self.before_job is not None:
            for d in deliveries:
                self.before_job(d.job)

    def _rows_for(self, edition_id: str) -> FastReader:
        """The edition's reader, about to be filled with other volumes: row 0 is no longer
        the volume `_loaded` says."""
        self._loaded.pop(edition_id, None)
        return self.reader(edition_id)

    def _load(self, fast: FastReader, job: Job) -> tuple[str, float]:
        """Put the job's volume into row 0 of the reader; (how it got there, seconds it took)."""
        edition_id, start = fast.edition.id, time.perf_counter()
        key = (edition_id, job.address)
        if self._loaded.get(edition_id) == job.address and not job.fresh:
            metrics.CACHE.labels("volume", "hit").inc()
            fast.built = 1
            return VOLUME, 0.0
        self._loaded.pop(edition_id, None)
        weights, row = self._weights.get(edition_id), fast.flat[0]
        if job.fresh:  # a verification: from the address, past every cache
            self._build(fast, job.address)
            how = MISS
        elif self.volumes.restore(key, row):
            how = VOLUME
        elif weights is not None and _quietly(weights.fetch, edition_id, job.address, row):
            how = WEIGHTS
        else:
            self._build(fast, job.address)
            how = MISS
            if weights is not None:
                _quietly(weights.store, edition_id, job.address, row)
        if how != VOLUME:
            self.volumes.put(key, row)
        fast.built = 1
        self._loaded[edition_id] = job.address
        return how, time.perf_counter() - start

    def _build(self, fast: FastReader, address: str) -> None:
        fast.build([parse_address(address)])
        metrics.VOLUMES_BUILT.labels(fast.edition.id).inc()

    def page(self, d: Delivery) -> Result:
        """A page job: the volume loaded into row 0 (from a cache where it can be), one page
        of it drawn as a PNG."""
        job, start = d.job, time.perf_counter()
        self.current = ([d], start)
        try:
            self._before([d])
            fast = self.reader(job.edition)
            how, build_s = self._load(fast, job)
            png = draw_page(fast.edition, fast.flat[0], job.page)
            return Result(
                d.job_id,
                job,
                True,
                worker=self.name,
                device=self.device,
                cache=how,
                timings={
                    "build": round(build_s, 4),
                    "total": round(time.perf_counter() - start, 4),
                },
                finished_at=time.time(),
                png=base64.b64encode(png).decode("ascii"),
            )
        except Exception as e:
            return self.failed([d], e)[0]
        finally:
            self.current = None

    # -- hunts and expeditions

    def hunt(
        self, deliveries: list[Delivery], pace: Callable[[], int] | None = None
    ) -> list[Result]:
        """Hunt jobs of one reading (hunt.same_reading): their volumes read together by the
        edition's FastReader (hunt.read_jobs), the best of each job kept. `pace()` runs before
        each batch of volumes and sizes it (the worker reads waiting readings there): the time
        it takes does not count against these jobs' time limit."""
        start = time.perf_counter()
        self.current = (deliveries, start)
        first, most = deliveries[0].job, [self.settings.worker_batch]

        def pause() -> int:
            held, paused = self.current, time.perf_counter()
            try:
                most.append(pace())
                return most[-1]
            finally:  # row 0 may hold another volume now; the hunt's clock skips the pause
                self._loaded.pop(first.edition, None)
                self.current = (held[0], held[1] + time.perf_counter() - paused)

        try:
            self._before(deliveries)
            found = read_jobs(
                self._rows_for(first.edition),
                [d.job for d in deliveries],
                pause if pace is not None else None,
            )
            volumes = sum(d.job.volumes for d in deliveries)
            batch = min(volumes, max(most[1:] or most))  # the largest batch read
            metrics.VOLUMES_BUILT.labels(first.edition).inc(volumes)
            total = round(time.perf_counter() - start, 4)
            results = []
            for d, best in zip(deliveries, found, strict=True):
                self._keep_readings(d.job, best)
                timings = {"queued": _queued(d), "total": total, "volumes": d.job.volumes}
                results.append(
                    Result(
                        d.job_id,
                        d.job,
                        True,
                        worker=self.name,
                        device=self.device,
                        timings={**timings, "batch": batch},
                        finished_at=time.time(),
                        candidates=best,
                    )
                )
            return results
        except Exception as e:
            return self.failed(deliveries, e)
        finally:
            self.current = None

    def _keep_readings(self, hunt: Job, found) -> None:
        """Store each kept volume's reading as the answer to the reading job it equals (unless
        one is stored), so that reading a hunt's find afterwards needs no worker."""
        results = []
        for c in found:
            job = Job.read(c.address, hunt.prompt, hunt.max_tokens, edition=hunt.edition)
            results.append(
                Result(
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
            )
        budget = self.settings.readings_mb * 2**20
        try:
            keep_readings(self.r, results, self.settings.reading_ttl_s, budget)
        except (redis.RedisError, OSError) as e:
            log.warning("worker %s could not keep a hunt's readings (%s)", self.name, e)

    def expedition(self) -> None:
        """While idle: read worker_batch random volumes of the worker's edition on the default
        prompt, and post those scoring at least settings.expedition_threshold (default
        scorer) to keys.EXPEDITIONS, for a bot to forward to its review channel."""
        size = min(self.settings.worker_batch, HUNT_CHUNK)
        edition = get_edition(self.settings.edition).id
        job = Job.hunt(secrets.randbelow(SEED_LIMIT), 0, size, edition=edition, top=HUNT_TOP_CAP)
        try:
            found = read_job(self._rows_for(edition), job)
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

    # -- errors

    def failed(self, deliveries: list[Delivery], e: Exception) -> list[Result]:
        """Error answers for jobs whose reading raised `e` (a refusal, memory, or a bug)."""
        if isinstance(e, LibraryError):
            return [self.failure(d, REFUSED, str(e)) for d in deliveries]
        ids = ", ".join(d.job_id for d in deliveries)
        if _out_of_memory(e):
            log.error("worker %s ran out of memory on job(s) %s", self.name, ids)
            self._free_memory()
            message = (
                "the worker ran out of memory reading this volume; try fewer tokens or a "
                "shorter prompt"
            )
            return [self.failure(d, MEMORY, message) for d in deliveries]
        log.error("worker %s failed on job(s) %s", self.name, ids, exc_info=e)
        message = f"the worker failed while reading this volume ({type(e).__name__})"
        return [self.failure(d, FAILED, message) for d in deliveries]

    def failure(self, d: Delivery, kind: str, message: str) -> Result:
        """The error answer `kind` to one job, signed by this worker (and counted)."""
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

    def _free_memory(self) -> None:
        """After running out of memory: drop the cached volumes and the readers' buffers."""
        self.volumes.clear()
        self._readers.clear()
        self._loaded.clear()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _queued(d: Delivery) -> float:
    """Seconds the job waited in the queue before this worker read it."""
    return round(max(0.0, time.time() - d.queued_at), 4) if d.queued_at else 0.0


def _quietly(call, *args) -> bool:
    """A weights-tier call whose Redis trouble (down, or full) counts as a miss."""
    try:
        return call(*args)
    except (redis.RedisError, OSError) as e:
        log.warning("weights tier unavailable (%s); building instead", e)
        return False


def _out_of_memory(e: BaseException) -> bool:
    import torch

    return isinstance(e, MemoryError | torch.cuda.OutOfMemoryError)
