"""The worker: take jobs from the queue, have them read, store the answers.

    worker = Worker(settings, url)        # url: RedisTarget.url
    worker.run()                          # until stop() (or SIGTERM/SIGINT under `shelf worker`)
    thread = worker.start_thread()        # or in the background, as the console does

Each turn the worker takes interactive work first and bulk work only when none waits
(intake.py, lanes.py), counts one attempt at each job (queue.Queue.start), dead-letters jobs
already attempted settings.max_deliveries times, and hands the rest to its reading desk
(desk.py: readers, volume caches, errors as answers): readings grouped by edition, then hunt
and page jobs, then a find job (at most one a turn: any other is handed back at once, like
extra hunt jobs; docs/finding.md). While it reads a hunt it reads the interactive jobs that
arrived before each batch of volumes (finds excepted: they are handed back), and while people
are reading it reads hunts an eighth of a batch at a time (`_pace`), so a reading waits for
that bite of a hunt at most. An entry it cannot read, or a job whose reading fails outside the
desk's error handling, is handed back with its attempt counted (a failed batch is read again
job by job first, so the others are answered): malformed input reaches the dead-letter stream
after max_deliveries attempts instead of crash-looping workers.
A turn holds at most worker_batch // 32 hunt jobs, and at least one (docs/hunting.md): any
further hunt job pulled is handed back at once, where an idle worker, which looks for
handed-back jobs every turn, takes it; so several workers share a long hunt. The heartbeat
thread (heartbeat.py) keeps the jobs in hand from being reclaimed and answers one that runs too
long. A lost Redis is waited for; answers made meanwhile are kept and stored when it is back.
With BABEL_EXPEDITIONS=on an idle worker hunts on its own and posts promising volumes for
review (docs/hunting.md, "Expeditions"). docs/worker.md has the whole flow.
"""

from __future__ import annotations

import contextlib
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
from .desk import Desk
from .edition import get_edition
from .heartbeat import REDIS_DOWN, beat
from .hunt import same_reading
from .intake import Intake, is_hunt
from .jobs import DEAD, FIND, HUNT, HUNT_CHUNK, PAGE, Job, Result
from .queue import HANDED_BACK, SILENT, Delivery, Queue
from .settings import Settings, is_on

log = logging.getLogger(__name__)

_numbers = itertools.count()
READING_S = 2.0  # a worker that read an interactive job this recently reads bulk work in bites
BITE = 8  # of a batch: a bite of bulk work is worker_batch // BITE volumes (at least one)


def default_name(settings: Settings) -> str:
    if settings.worker_name:
        return settings.worker_name
    n = next(_numbers)
    return f"{socket.gethostname()}-{os.getpid()}" + (f"-{n}" if n else "")


class Worker:
    """One worker: one Redis consumer and one reading desk (its readers and volume cache).

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
        self.exit_on_hang = exit_on_hang
        self.claim_idle_ms = int(settings.claim_idle_s * 1000)
        self.expeditions = is_on(settings.expeditions)
        # hunt jobs read together in a turn: a batch of 128 on a GPU takes four jobs of 32
        self.hunts_per_turn = max(1, settings.worker_batch // HUNT_CHUNK)
        self.answered = 0  # jobs this worker answered (its answer was the one stored)
        self.stopping = threading.Event()
        self.timed_out: set[str] = set()  # handles of jobs the heartbeat answered with a timeout
        self._hand = threading.Lock()
        self._in_hand: dict[str, Delivery] = {}  # handle -> job being read (either lane)
        self._last_interactive = -READING_S  # monotonic time it last read an interactive job
        self._look = False  # `_pace` handed jobs back: the next turn looks for them
        self._unsaved: list[tuple[Delivery, Result]] = []
        self.r = redis.Redis.from_url(url)
        self.queue = Queue(self.r, self.name, settings.reading_ttl_s, settings.readings_mb * 2**20)
        self.intake = Intake(self.queue, settings, self.hunts_per_turn, self.stopping)
        self.desk = Desk(settings, self.r, self.name, self.device, self.stopping, before_job)

    # -- running

    def run(self) -> None:
        """Serve jobs until `stop()`; jobs in hand are finished or handed back."""
        log.info("worker %s on %s serving %s", self.name, self.device, self.url)
        heart = threading.Thread(target=beat, args=(self,), name=f"{self.name}-heartbeat")
        heart.daemon = True
        heart.start()
        backoff, joined, look = 0.1, False, False
        try:
            while not self.stopping.is_set():
                try:
                    if not joined:
                        self.queue.ensure_group()
                        joined = True
                    self._store_unsaved()
                    batch = self.intake.take(look)
                    batch, handed_back = self._few_hunt_jobs(batch)
                    batch, more_handed_back = self._one_find(batch)
                    look = handed_back or more_handed_back or not batch
                    if batch:
                        look = self._process(batch) or look or self._look
                        self._look = False
                    elif self.expeditions and not self.stopping.is_set():
                        self.desk.expedition()
                    backoff = 0.1
                except REDIS_DOWN as e:
                    log.warning("worker %s: Redis unreachable (%s); retrying", self.name, e)
                    self.stopping.wait(backoff)
                    backoff = min(2.0, backoff * 2)
                except redis.ResponseError as e:
                    if "NOGROUP" in str(e):
                        log.warning("worker %s: the queue was reset; joining it again", self.name)
                        joined = False
                        continue
                    log.error("worker %s: Redis refused a command (%s); retrying", self.name, e)
                    self.stopping.wait(2.0)
                except Exception:  # a bug: the worker goes on (the batch's attempts are counted)
                    log.exception("worker %s: a turn failed; going on", self.name)
                    self.stopping.wait(1.0)
                    look = True
        finally:
            self.stopping.set()
            heart.join(timeout=5)
            self._leave()

    def stop(self) -> None:
        """Finish the job being read, hand the rest of the batch back, then return from run()."""
        self.stopping.set()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (for an in-process worker); stop() ends it."""
        thread = threading.Thread(target=self.run, name=f"worker-{self.name}", daemon=True)
        thread.start()
        return thread

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop gracefully; a second one interrupts the job being read."""

        def handler(signum, frame):
            if self.stopping.is_set():
                raise KeyboardInterrupt
            log.info("worker %s: stopping after the job in hand", self.name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def warm_up(self, edition: str) -> None:
        """Make the edition's reader now, so the first job does not pay for it."""
        self.desk.reader(get_edition(edition).id)

    def in_hand(self) -> list[Delivery]:
        """The jobs being read now, of either lane (for the heartbeat)."""
        with self._hand:
            return list(self._in_hand.values())

    # -- a batch

    def _few_hunt_jobs(self, batch: list[Delivery]) -> tuple[list[Delivery], bool]:
        """The batch with at most hunts_per_turn hunt jobs, all on the first one's reading
        (hunt.same_reading); the other hunt jobs are handed back at once."""
        hunts = [d for d in batch if is_hunt(d)]
        keep = [d for d in hunts if same_reading(d.job, hunts[0].job)][: self.hunts_per_turn]
        extra = {d.handle for d in hunts} - {d.handle for d in keep}
        if not extra:
            return batch, False
        self.queue.hand_back_all([d for d in hunts if d.handle in extra])
        log.debug("worker %s hands back %d hunt jobs for other workers", self.name, len(extra))
        return [d for d in batch if d.handle not in extra], True

    def _one_find(self, batch: list[Delivery]) -> tuple[list[Delivery], bool]:
        """The batch with at most one find job (it holds the worker for minutes): any other
        find is handed back at once, for an idle worker to take."""
        finds = [d for d in batch if d.job is not None and d.job.kind == FIND]
        extra = {d.entry for d in finds[1:]}
        if not extra:
            return batch, False
        self.queue.hand_back(sorted(extra))
        return [d for d in batch if d.entry not in extra], True

    def _process(self, batch: list[Delivery]) -> bool:
        """Count this attempt at each job, then read them; True when a job was handed back.

        A job taken more than max_deliveries times is dead-lettered. One that cannot be read
        (`Delivery.problem`), or whose reading fails outside the desk's own error handling,
        is handed back with its attempt counted, so it reaches the dead-letter stream after
        max_deliveries attempts; when a batch fails that way, its other jobs are read one by
        one, so they are answered in the same turn.
        """
        batch = self.queue.start(batch)
        todo, failed = [], False
        for d in batch:
            self._log_taken(d)
            if d.deliveries > self.settings.max_deliveries:
                self._dead_letter(d)
            elif d.problem:
                self.queue.fail(d, d.problem)
                failed = True
            else:
                todo.append(d)
        if any(not is_hunt(d) for d in todo):
            self._last_interactive = time.monotonic()
        with self._hand:  # added to what is in hand: a hunt's batch stays there while
            self._in_hand.update((d.handle, d) for d in todo)  # `_pace` reads
        try:
            try:
                self._read(todo)
            except REDIS_DOWN:
                raise
            except Exception:
                left = self._left(todo)
                log.exception(
                    "worker %s: a batch failed; reading its %d unanswered jobs one by one",
                    self.name,
                    len(left),
                )
                for d in left:
                    if not self.stopping.is_set():
                        failed = self._read_alone(d) or failed
        finally:
            with self._hand:
                left = [self._in_hand.pop(d.handle) for d in todo if d.handle in self._in_hand]
            if left:
                log.info("worker %s hands back %d jobs", self.name, len(left))
                try:
                    self.queue.hand_back_all(left)
                except REDIS_DOWN:
                    log.warning("could not hand back %d jobs; they will be reclaimed", len(left))
        return failed

    def _read(self, todo: list[Delivery]) -> None:
        """Read the jobs (readings by edition, then hunts, pages, a find) and store the answers."""
        by_edition: dict[str, list[Delivery]] = {}
        for d in todo:
            if d.job.kind not in (HUNT, PAGE, FIND):
                by_edition.setdefault(d.job.edition, []).append(d)
        for edition_id, group in by_edition.items():
            group.sort(key=lambda d: d.job.address)  # one build per volume
            for d, result in self.desk.read_batch(edition_id, group):
                self._store(d, result)
        hunts = [d for d in todo if d.job.kind == HUNT]
        if hunts and not self.stopping.is_set():
            found = self.desk.hunt(hunts, pace=self._pace)
            for d, result in zip(hunts, found, strict=True):
                self._store(d, result)
        for d in todo:  # after the readings: a page of a volume just read needs no build
            if d.job.kind == PAGE and not self.stopping.is_set():
                self._store(d, self.desk.page(d))
        for d in todo:  # last, as it takes longest; None: stopping, it is handed back
            if d.job.kind == FIND and not self.stopping.is_set():
                result = self.desk.find(d)
                if result is not None:
                    self._store(d, result)

    def _read_alone(self, d: Delivery) -> bool:
        """Read one job of a failed batch; True when it failed too (and was handed back)."""
        try:
            self._read([d])
            return False
        except REDIS_DOWN:
            raise
        except Exception as e:
            log.exception("worker %s: job %s failed alone", self.name, d.job_id)
            with self._hand:
                self._in_hand.pop(d.handle, None)
            self.queue.fail(d, f"{type(e).__name__}: {e}"[:300])
            return True

    def _left(self, todo: list[Delivery]) -> list[Delivery]:
        with self._hand:
            return [d for d in todo if d.handle in self._in_hand]

    def _pace(self) -> int:
        """Before each batch of volumes of bulk work (Desk.hunt): read the interactive jobs
        waiting now, one batch of them; then say how many volumes the hunt's next batch may
        hold: a bite (worker_batch // BITE) while people are reading (an interactive job
        within the last READING_S), so that a reading waits for a bite of a hunt at most,
        never for the hunt; a whole batch otherwise. Never raises: the hunt in hand must not
        fail for what happens here (these jobs are handed back, or reclaimed, as any)."""
        try:
            batch = (
                [] if self.stopping.is_set() else self.intake.new(self.settings.worker_batch, None)
            )
            # an old hunt job in the interactive lane, or a find (minutes): for a later turn
            later = [d for d in batch if is_hunt(d) or (d.job is not None and d.job.kind == FIND)]
            if later:
                self.queue.hand_back_all(later)
                self._look = True
            batch = [d for d in batch if d not in later]
            if batch:
                log.debug("worker %s reads %d jobs within a hunt", self.name, len(batch))
                self._look = self._process(batch) or self._look
        except Exception:
            log.exception("worker %s: interactive jobs within a hunt failed", self.name)
        if time.monotonic() - self._last_interactive < READING_S:
            return max(1, self.settings.worker_batch // BITE)
        return self.settings.worker_batch

    def _log_taken(self, d: Delivery) -> None:
        if d.source == SILENT:
            log.warning(
                "worker %s took over job %s from a silent worker (attempt %d)",
                self.name,
                d.job_id,
                d.deliveries,
            )
        elif d.source == HANDED_BACK:
            log.info(
                "worker %s took over handed-back job %s (attempt %d)",
                self.name,
                d.job_id,
                d.deliveries,
            )

    def _dead_letter(self, d: Delivery) -> None:
        self.queue.dead_letter(d, self.settings.max_deliveries)
        metrics.ERRORS.labels(DEAD).inc()
        metrics.DEAD_LETTERS.labels(
            "unreadable" if d.problem else "failed" if d.why else "stopped"
        ).inc()

    # -- answers

    def _store(self, d: Delivery, result: Result) -> None:
        with self._hand:
            self._in_hand.pop(d.handle, None)
        self.timed_out.discard(d.handle)
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

    def _leave(self) -> None:
        with contextlib.suppress(REDIS_DOWN):  # gone from the registry once its heartbeat ages
            self.r.zrem(keys.WORKERS, self.name)
            self.r.delete(keys.worker(self.name))
        self.r.close()
        log.info("worker %s stopped after %d answers", self.name, self.answered)


def beating_here(r: redis.Redis, settings: Settings) -> bool:
    """Whether this host's worker (or the one named BABEL_WORKER_NAME) beat recently."""
    since = time.time() - keys.HEARTBEAT_TTL_S
    names = [_text(n) for n in r.zrangebyscore(keys.WORKERS, since, "+inf")]
    if settings.worker_name:
        return settings.worker_name in names
    return any(n.startswith(socket.gethostname() + "-") for n in names)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
