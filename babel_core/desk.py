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
  build) and draws the page (page.py) into `Result.png`;
- a find job (find.py) trains, checks and locates a volume on the worker's device, puts its
  slip into the slip store (slipstore.py) and answers its handle, place and readings. While it
  runs it writes its progress to `keys.progress(id)` about once a second and stops at the next
  step when it is cancelled (`keys.cancel(id)`), past BABEL_FIND_TIMEOUT_S, or when the worker
  stops (the job is then handed back, and another worker finds the same volume again).

An address may be a found volume's handle (`slip:…`): its digits come from the slip store and
the volume is built from them (bijection_numba.build_weights_full).

Any error on a job (a refusal, out of memory, a bug) becomes that job's error answer, in words
for the person who asked. Nothing here imports transformers: a worker starts in seconds.
"""

from __future__ import annotations

import base64
import contextlib
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
from .address import is_handle, parse_address
from .cache import RedisWeights, VolumeLRU, weights_tier
from .edition import get_edition
from .errors import LibraryError
from .hunt import read_job, read_jobs
from .jobs import (
    CANCELLED,
    FAILED,
    HUNT_CHUNK,
    HUNT_TOP_CAP,
    MEMORY,
    MISS,
    NOT_FOUND,
    REFUSED,
    SEED_LIMIT,
    TIMEOUT,
    VOLUME,
    WEIGHTS,
    FoundVolume,
    Job,
    PairReading,
    Result,
)
from .page import draw_page
from .queue import Delivery, keep_readings
from .settings import Settings, is_on

if TYPE_CHECKING:  # imported on first use: torch and numba load only when a job needs them
    from .fastread import FastReader

log = logging.getLogger(__name__)

_IMPORT_LOCK = threading.Lock()  # torch's lazy imports are not safe from two threads at once
PROGRESS_EVERY_S = 1.0  # a find writes its progress (and looks for a cancel) this often


class _HandBack(LibraryError):
    """The worker is stopping: leave the find in hand, to be handed back."""


class _Stop(LibraryError):
    """A find stopped early; `kind` and the message become its answer."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


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
        self._slips = None  # the slip store, opened on first use (slipstore.open_store)

    @property
    def slips(self):
        if self._slips is None:
            from .slipstore import open_store

            self._slips = open_store(self.settings)
        return self._slips

    def volume(self, edition_id: str, address: str):
        """What FastReader.build takes for an address: a short Address, or a handle's digits."""
        if not is_handle(address):
            return parse_address(address)
        from .slipstore import SlipMissing

        try:
            return self.slips.load(address, get_edition(edition_id))[1]
        except SlipMissing:
            self._forget_found([address])
            raise

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
            fast.build([self.volume(edition_id, d.job.address) for d in bundle])
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
        return self._answer(
            d.job_id,
            d.job,
            text=reading.text,
            token_ids=list(reading.token_ids),
            fingerprint=reading.fingerprint,
            stopped_at_eos=reading.stopped_at_eos,
            cache=how,
            timings={
                "queued": _queued(d),
                "build": round(build_s, 4),
                "read": round(read_s, 4),
                "total": _since(start),
                "batch": batch,
            },
        )

    def _answer(self, job_id: str, job: Job, **fields) -> Result:
        """A job's answer, signed by this worker (`failure` signs the error answers)."""
        return Result(
            job_id,
            job,
            True,
            worker=self.name,
            device=self.device,
            finished_at=time.time(),
            **fields,
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
        fast.build([self.volume(fast.edition.id, address)])
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
            return self._answer(
                d.job_id,
                job,
                cache=how,
                timings={"build": round(build_s, 4), "total": _since(start)},
                png=base64.b64encode(png).decode("ascii"),
            )
        except Exception as e:
            return self.failed([d], e)[0]
        finally:
            self.current = None

    # -- finds

    def find(self, d: Delivery) -> Result | None:
        """A find job's answer (or None when the worker is stopping: the job is handed back)."""
        from .find import NotFound
        from .find import find as run_find

        job, start = d.job, time.perf_counter()
        self.current = ([d], start)
        edition = get_edition(job.edition)
        limit = self.settings.find_timeout_s
        last = [0.0]

        def progress(p) -> None:
            if self.stop.is_set():
                raise _HandBack
            now = time.perf_counter()
            if now - start > limit:
                message = f"the find took longer than {limit:g} s; try fewer pairs or steps"
                raise _Stop(TIMEOUT, message)
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                if self._report(d, p):
                    raise _Stop(CANCELLED, f"cancelled while finding, at step {p.step}")

        try:
            self._before([d])
            found = run_find(
                edition,
                job.pairs,
                steps=job.steps,
                seed=job.seed,
                device=self.device,
                on_progress=progress,
                reader=self._rows_for(edition.id),  # its row 0 reads the rounded volume
            )
            stored = self.slips.put(edition, found.location.digits)
            self._forget_found(stored.evicted)
            self._remember_found(stored.handle, d.job_id)
            return self._answer(
                d.job_id,
                job,
                timings={"queued": _queued(d), **found.seconds, "total": _since(start)},
                found=found_volume(stored.handle, found),
            )
        except _HandBack:
            return None
        except _Stop as e:
            return self.failure(d, e.kind, str(e))
        except NotFound as e:
            return self.failure(d, NOT_FOUND, str(e))
        except Exception as e:
            return self.failed([d], e)[0]
        finally:
            self.current = None
            with contextlib.suppress(redis.RedisError, OSError):
                self.r.delete(keys.progress(d.job_id), keys.cancel(d.job_id))

    def _report(self, d: Delivery, p) -> bool:
        """Write a find's progress for its waiting clients; True if it has been cancelled."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(
            keys.progress(d.job_id),
            mapping={
                "step": p.step,
                "steps": p.steps,
                "loss": repr(p.loss),
                "right": p.right,
                "pairs": p.pairs,
                "checks": p.checks,
                "worker": self.name,
                "at": time.time(),
            },
        )
        pipe.expire(keys.progress(d.job_id), keys.PROGRESS_TTL_S)
        pipe.exists(keys.cancel(d.job_id))
        try:
            return bool(pipe.execute()[-1])
        except (redis.RedisError, OSError) as e:  # progress is a courtesy: the find goes on
            log.debug("find %s: progress not written (%s)", d.job_id, e)
            return False

    def _remember_found(self, handle: str, job_id: str) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self.r.set(keys.found(handle), job_id, ex=self.settings.reading_ttl_s)

    def _forget_found(self, handles: list[str]) -> None:
        """Slips that left the store: drop the find answers naming them, so that asking the
        same find again finds the volume again instead of answering a handle with no slip."""
        for handle in handles:
            try:
                job_id = self.r.getdel(keys.found(handle))
                if job_id is not None:
                    self.r.delete(keys.result(job_id.decode()))
            except (redis.RedisError, OSError) as e:
                log.warning("could not forget the find answer of %s (%s)", handle, e)

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
            total = _since(start)
            results = []
            for d, best in zip(deliveries, found, strict=True):
                self._keep_readings(d.job, best)
                timings = {"queued": _queued(d), "total": total, "volumes": d.job.volumes}
                results.append(
                    self._answer(
                        d.job_id, d.job, timings={**timings, "batch": batch}, candidates=best
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
                self._answer(
                    job.id,
                    job,
                    text=c.text,
                    token_ids=c.token_ids,
                    fingerprint=c.fingerprint,
                    stopped_at_eos=c.stopped_at_eos,
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


def found_volume(handle: str, found) -> FoundVolume:
    """The job protocol's record of a find.Found stored under `handle`."""
    a, loc = found.location.address, found.location
    return FoundVolume(
        handle=handle,
        address=str(a),
        wall=a.wall,
        shelf=a.shelf,
        volume=a.volume,
        hexagon_chars=a.hexagon_chars,
        hexagon_head=a.hexagon_head,
        hexagon_tail=a.hexagon_tail,
        clamped=loc.clamped,
        max_rounding_error=loc.max_rounding_error,
        steps=found.steps,
        loss=found.loss,
        checks=found.checks,
        readings=[
            PairReading(
                p.prompt, p.answer, r.text, list(r.token_ids), r.fingerprint, r.stopped_at_eos
            )
            for p, r in zip(found.pairs, found.readings, strict=True)
        ],
    )


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)


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
