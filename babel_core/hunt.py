"""Hunting: read many random volumes on one prompt, score every reading, keep the best.

    hunt = Hunt.new(256, "Once upon a time", edition="tiny", score="words", top=5)
    outcome = await run(client, hunt, "user:42", on_progress=show)   # through the queue
    outcome = hunt_here(hunt, FastReader(TINY, batch=8))              # in this process

A hunt of `count` volumes is split into ceil(count / HUNT_CHUNK) hunt jobs (`jobs.Job.hunt`),
which any worker may take, so several workers share a long hunt. Job c reads the volumes
`chunk_addresses(seed, c, size)`, drawn from (seed, c) by BLAKE2b alone: every worker, on any
Python, reads the same volumes for the same job, and a job run twice gives the same answer.
Each job keeps its own best `top` (ranked by `Candidate.rank_key`); the hunt's best are the
best of those, exactly what ranking all `count` readings at once would give. Only the hunt's
starter may cancel it: the record `keys.hunt(id)` names its owner and its jobs. Importing this
module imports no torch (the bot plans hunts; workers and `shelf hunt` read them).
docs/hunting.md has the details.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

from . import keys
from .address import NEAR_WING_HEXAGON_CHARS, PER_HEXAGON, Address
from .client import LibraryBusy
from .edition import DEFAULT_EDITION, DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, get_edition
from .errors import LibraryError
from .jobs import CANCELLED, HUNT_CHUNK, HUNT_TOP_CAP, SEED_LIMIT, Candidate, Job, Result
from .scorers import get_scorer
from .settings import Settings

log = logging.getLogger(__name__)

CPU_SHARE = 8  # where no worker reads on a GPU, hunt defaults and caps are divided by this
DEFAULT_TOP = 5
STALL_S = 600.0  # a hunt stops waiting when no job of it was answered for this long
NEAR_WING = PER_HEXAGON * 36**NEAR_WING_HEXAGON_CHARS  # volumes a hunt draws from


class HuntError(LibraryError, ValueError):
    """A hunt that cannot be made as asked, or a cancel that is not allowed."""


def volume_address(seed: int, chunk: int, i: int) -> Address:
    """The i-th volume of a hunt's job: BLAKE2b-256 (person "babel-hunt") of "seed:chunk:i",
    read as a little-endian integer, modulo the number of volumes in the near wing."""
    text = f"{seed}:{chunk}:{i}".encode()
    digest = hashlib.blake2b(text, digest_size=32, person=b"babel-hunt").digest()
    return Address.from_index(int.from_bytes(digest, "little") % NEAR_WING)


def chunk_addresses(seed: int, chunk: int, volumes: int) -> list[Address]:
    """The volumes a hunt job reads, in order."""
    return [volume_address(seed, chunk, i) for i in range(volumes)]


@dataclass(frozen=True)
class Hunt:
    """What decides a hunt's answer; its jobs and its id follow from it. Make it with `new`."""

    edition: str  # edition id
    prompt: str
    max_tokens: int
    count: int  # volumes to read
    score: str  # scorer name
    top: int  # results to keep
    seed: int

    @classmethod
    def new(
        cls,
        count: int,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        edition: str = DEFAULT_EDITION,
        score: str = "default",
        top: int = DEFAULT_TOP,
        seed: int | None = None,
    ) -> Hunt:
        """A checked hunt; without a seed, a fresh random one (so each hunt reads new volumes)."""
        if count < 1:
            raise HuntError(f"a hunt reads at least one volume, not {count}")
        if not 1 <= top <= HUNT_TOP_CAP:
            raise HuntError(f"a hunt keeps 1 to {HUNT_TOP_CAP} results, not {top}")
        get_scorer(score)
        seed = secrets.randbelow(SEED_LIMIT) if seed is None else seed
        hunt = cls(
            get_edition(edition).id, prompt, max_tokens, count, score.strip().lower(), top, seed
        )
        hunt.job(0)  # checks the prompt, max tokens and seed the way every job is checked
        return hunt

    @property
    def chunks(self) -> int:
        return math.ceil(self.count / HUNT_CHUNK)

    def job(self, chunk: int) -> Job:
        volumes = min(HUNT_CHUNK, self.count - chunk * HUNT_CHUNK)
        return Job.hunt(
            self.seed,
            chunk,
            volumes,
            self.prompt,
            self.max_tokens,
            self.edition,
            self.score,
            self.top,
        )

    def jobs(self) -> list[Job]:
        """Every job of the hunt, as a list (for hunts sent through the queue, which front
        ends cap); `iter_jobs` makes them one at a time."""
        return list(self.iter_jobs())

    def iter_jobs(self) -> Iterator[Job]:
        """The jobs one at a time, in order: a hunt of 10^11 volumes has 3 x 10^9 of them."""
        return (self.job(c) for c in range(self.chunks))

    def addresses(self) -> list[Address]:
        """Every volume the hunt reads, job by job."""
        return [
            a for job in self.jobs() for a in chunk_addresses(self.seed, job.chunk, job.volumes)
        ]

    @property
    def id(self) -> str:
        """32 hex digits over what decides the hunt (seed included)."""
        text = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=16, person=b"babel-hunt").hexdigest()


# -- reading and ranking (workers and `shelf hunt`)


def rank(candidates: Iterable[Candidate], top: int) -> list[Candidate]:
    """The best `top`: higher score first, ties by address."""
    return sorted(candidates, key=lambda c: c.rank_key)[:top]


def score_readings(
    addresses: Sequence[Address], readings: Sequence, score: str, prompt: str, top: int
) -> list[Candidate]:
    """Score each reading (a read.Reading) and keep the best `top`."""
    scorer = get_scorer(score)
    found = (
        Candidate(
            str(a),
            float(scorer(r, prompt)),
            r.text,
            list(r.token_ids),
            r.fingerprint,
            r.stopped_at_eos,
        )
        for a, r in zip(addresses, readings, strict=True)
    )
    return rank(found, top)


def read_job(fast, job: Job) -> list[Candidate]:
    """A hunt job's answer: its volumes read together by `fast` (a FastReader), the best kept."""
    return read_jobs(fast, [job])[0]


def read_jobs(fast, jobs: Sequence[Job]) -> list[list[Candidate]]:
    """The answers of hunt jobs on one reading (edition, prompt, max tokens), their volumes read
    together by `fast`, `fast.batch` at a time: how a GPU worker fills a batch of 128 with four
    jobs of 32. Each job's answer is what reading it alone gives (readings do not depend on
    which volumes share a batch: tests/test_fastread.py)."""
    first = jobs[0]
    assert all(same_reading(j, first) for j in jobs), "hunt jobs read together share a reading"
    addresses = [chunk_addresses(j.seed, j.chunk, j.volumes) for j in jobs]
    readings = fast.read_many(
        [a for each in addresses for a in each], first.prompt, first.max_tokens
    )
    answers, at = [], 0
    for job, mine in zip(jobs, addresses, strict=True):
        answers.append(
            score_readings(mine, readings[at : at + len(mine)], job.score, job.prompt, job.top)
        )
        at += len(mine)
    return answers


def same_reading(a: Job, b: Job) -> bool:
    """Whether two jobs' volumes are read the same way, so that they can share a batch."""
    return (a.edition, a.prompt, a.max_tokens) == (b.edition, b.prompt, b.max_tokens)


@dataclass(frozen=True)
class Outcome:
    """A hunt's answer: the best readings, and how much of the hunt was read."""

    hunt: Hunt
    best: list[Candidate]
    volumes_read: int
    cancelled: int = 0  # jobs withdrawn before a worker took them
    errors: tuple[str, ...] = ()  # the distinct errors of failed jobs
    stalled: bool = False  # stopped waiting: no job was answered for the stall time
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.volumes_read == self.hunt.count


def hunt_here(hunt: Hunt, fast, on_job: Callable[[Job], None] | None = None) -> Outcome:
    """Read a whole hunt in this process with a FastReader; on_job(job) after each job.

    Streams: each job is made when it is read and only the best `top` readings are kept, so
    memory stays flat however many volumes the hunt reads (`shelf hunt 100000000000` reads
    until stopped, showing its progress job by job).
    """
    start, best = time.perf_counter(), []
    for job in hunt.iter_jobs():
        best = rank([*best, *read_job(fast, job)], hunt.top)
        if on_job is not None:
            on_job(job)
    return Outcome(hunt, best, hunt.count, seconds=time.perf_counter() - start)


# -- through the queue (the requester's side)


@dataclass(frozen=True)
class HuntProgress:
    """A running hunt's state, given to `on_progress` whenever it changes."""

    hunt_id: str
    volumes_done: int  # volumes of the jobs answered so far (read, failed or cancelled)
    volumes: int
    workers: int  # workers alive (0: the hunt waits until one starts)


HuntCallback = Callable[[HuntProgress], Awaitable[None] | None]


async def run(
    client,
    hunt: Hunt,
    requester: str,
    on_progress: HuntCallback | None = None,
    stall_s: float = STALL_S,
) -> Outcome:
    """Submit every job of the hunt, follow them, merge their best readings.

    `client` is a client.LibraryClient. Jobs cancelled by the starter (`cancel`) count as
    cancelled; jobs that fail keep their error. If no job is answered for `stall_s`, the
    hunt stops waiting, withdraws its jobs not yet taken, and answers with what it has.
    """
    start = time.perf_counter()
    jobs = {job.id: job for job in hunt.jobs()}
    record = json.dumps({"owner": requester, "jobs": list(jobs)})
    await client.r.set(keys.hunt(hunt.id), record, ex=keys.HUNT_TTL_S)
    answers: dict[str, Result] = {}
    waiting: dict[asyncio.Task, str] = {}
    stalled = False

    async def report() -> None:
        if on_progress is None:
            return
        done = sum(jobs[job_id].volumes for job_id in answers)
        progress = HuntProgress(hunt.id, done, hunt.count, await client.workers_alive())
        outcome = on_progress(progress)
        if inspect.isawaitable(outcome):
            await outcome

    try:
        for job in jobs.values():
            try:
                ticket = await client.submit(job, requester)
            except LibraryBusy:  # the queue is full: take back what this hunt queued
                for job_id in waiting.values():
                    with contextlib.suppress(LibraryError):
                        await client.cancel(job_id, requester)
                raise
            if ticket.cached is not None:
                answers[job.id] = ticket.cached
            else:
                waiting[asyncio.create_task(client.wait(job.id, None))] = job.id
        await report()
        while waiting:
            done, _ = await asyncio.wait(
                waiting, timeout=stall_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                stalled = True
                break
            for task in done:
                answers[waiting.pop(task)] = task.result()
            await report()
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    withdrawn = 0
    if stalled:
        log.warning("hunt %s stalled after %d of %d jobs", hunt.id, len(answers), len(jobs))
        for job_id in jobs.keys() - answers.keys():
            withdrawn += await client.cancel(job_id, requester)
    return merge(hunt, answers.values(), stalled, time.perf_counter() - start, withdrawn)


def merge(
    hunt: Hunt,
    results: Iterable[Result],
    stalled: bool = False,
    seconds: float = 0.0,
    withdrawn: int = 0,
) -> Outcome:
    """The hunt's outcome from its jobs' answers (and the jobs withdrawn without one)."""
    found, read, cancelled, errors = [], 0, withdrawn, []
    for result in results:
        if result.ok:
            found += result.candidates
            read += result.job.volumes
        elif result.error_kind == CANCELLED:
            cancelled += 1
        elif result.error not in errors:
            errors.append(result.error)
    return Outcome(hunt, rank(found, hunt.top), read, cancelled, tuple(errors), stalled, seconds)


async def cancel(client, hunt_id: str, requester: str) -> int | None:
    """Withdraw the hunt's jobs no worker has taken yet; how many were withdrawn.

    None when there is no such hunt (it may be a reading's job id); HuntError when the
    requester did not start it.
    """
    raw = await client.r.get(keys.hunt(hunt_id))
    if raw is None:
        return None
    record = json.loads(raw)
    if record["owner"] != requester:
        raise HuntError("only the person who started this hunt can cancel it")
    withdrawn = 0
    for job_id in record["jobs"]:
        withdrawn += await client.cancel(job_id, requester)
    return withdrawn


# -- how much a person may hunt


@dataclass(frozen=True)
class Limits:
    default: int  # volumes when the person gives no count
    cap: int  # the most volumes in one hunt
    gpu: bool  # whether the numbers are those for GPU workers


def limits(settings: Settings, *, gpu: bool, moderator: bool) -> Limits:
    """Defaults and caps by role (moderators and owners may hunt more) and by device."""
    share = 1 if gpu else CPU_SHARE
    cap = max(1, (settings.hunt_cap_moderator if moderator else settings.hunt_cap) // share)
    return Limits(max(1, min(settings.hunt_default // share, cap)), cap, gpu)


async def gpu_workers(client) -> bool:
    """Whether a live worker reads on a GPU (its heartbeat's device is not the CPU)."""
    since = time.time() - keys.HEARTBEAT_TTL_S
    names = await client.r.zrangebyscore(keys.WORKERS, since, "+inf")
    if not names:
        return False
    async with client.r.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hget(keys.worker(_text(name)), "device")
        devices = await pipe.execute()
    return any(d is not None and not _text(d).startswith("cpu") for d in devices)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
