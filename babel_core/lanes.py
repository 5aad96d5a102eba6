"""Two lanes on one queue: a person waiting for a reading never waits behind someone's hunt.

- The **interactive lane** is the stream `keys.JOBS`, in arrival order: readings, random
  readings, pages, and every kind not named bulk here (finds too). Someone is waiting for each.
- The **bulk lane** is one stream per (server, requester), `keys.bulk(server, requester)`:
  hunt jobs, which nobody reads one at a time. The workers share it round-robin: servers take
  turns (the ring `keys.BULK_SERVERS`), and within a server its requesters do (the ring
  `keys.bulk_ring(server)`), one turn per worker batch (queue_scripts.TAKE_BULK: LMOVE both
  rings, XREADGROUP the stream). Two people's hunts progress at the same rate, whatever their
  sizes, and a crowd in one server does not slow another server's one hunter.

Every stream of both lanes is read through the one consumer group `keys.GROUP`, and every
step is the same script in both: acknowledgement after the answer is stored (FINISH), reclaim
of a silent worker's jobs (XAUTOCLAIM), attempts and dead letters, cancel, in-flight dedupe by
job id, positions in O(log N) counted within the job's own stream. A job's in-flight record
names its stream (its *handle*, queue_scripts.py), so a requester who joins an identical job
queued by someone else can still cancel and follow it.

A worker takes interactive jobs first in every turn, and bulk jobs only when none waits
(intake.py); while it reads bulk work it looks at the interactive lane before each batch of
volumes and reads what waits there before it goes on, and while people are reading it reads
bulk work in small bites, so a reading waits for one bite of a hunt at most (worker.py).
Expeditions are the lowest bulk work of all: an idle worker goes on one only when both lanes
are empty.

Caps: `settings.queue_cap` jobs in each lane (the bulk lane's total is the sum over its
streams), and `settings.bulk_cap_per_requester` bulk jobs queued by one requester in one
server, so nobody fills the lane for everyone else. The people's side adds its own limits per
person and per server (bot/commands/limits.py); docs/worker.md, "Lanes", lists them all.
"""

from __future__ import annotations

import time

from . import keys
from .jobs import HUNT, Job

BULK_KINDS = (HUNT,)  # jobs that wait in the bulk lane; every other kind is interactive


def is_bulk(job: Job) -> bool:
    return job.kind in BULK_KINDS


def enqueue_keys(job_id: str) -> list[str]:
    """ENQUEUE's keys for an interactive job, in its order."""
    return [
        keys.result(job_id),
        keys.inflight(job_id),
        keys.waiters(job_id),
        keys.JOBS,
        keys.JOBS_ADDED,
        keys.READINGS_LRU,
    ]


def enqueue_call(
    job: Job,
    requester: str,
    server: str,
    queue_cap: int,
    bulk_cap: int,
    now: float | None = None,
) -> dict:
    """ENQUEUE's keys and arguments for `job` asked by `requester` in `server` ("" outside
    any server): the interactive lane, or the requester's bulk stream for a bulk job."""
    now = time.time() if now is None else now
    args = [job.id, job.to_json(), requester, now, queue_cap]
    if not is_bulk(job):
        return dict(keys=enqueue_keys(job.id), args=args)
    stream = keys.bulk(server, requester)
    return dict(
        keys=[
            keys.result(job.id),
            keys.inflight(job.id),
            keys.waiters(job.id),
            stream,
            keys.BULK_ADDED,
            keys.READINGS_LRU,
            keys.BULK_STREAMS,
            keys.BULK_SERVERS,
            keys.bulk_ring(server),
        ],
        args=[*args, server or keys.NO_SERVER, bulk_cap],
    )


def handle(stream: str, entry: str) -> str:
    """A job's place as its in-flight record and its attempts name it (queue_scripts.py)."""
    return entry if stream == keys.JOBS else f"{entry} {stream}"
