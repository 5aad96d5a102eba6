"""A worker's heartbeat: proof of life, and the watch over a job that runs too long.

A thread beside the worker's loop, with its own Redis connection, every claim_idle_s / 3
(between 0.05 and 5 s):

- records the worker in `keys.WORKERS` and its state in `keys.worker(name)` (what
  `shelf status` and the bot's "no worker is running" answer read), and the queue depth and
  live workers for the metrics;
- resets the idle time of the jobs in hand, so that no other worker reclaims them while this
  one is alive and reading;
- answers a job that runs past settings.job_timeout_s (a find: settings.find_timeout_s) with
  a timeout error (the person who asked hears at once), and with exit_on_hang ends a process
  whose job never returns, so that its jobs are reclaimed by another worker.

A find holds its worker for minutes; the heartbeat keeps its entry's idle time at zero all
along, so no other worker reclaims it while this one is alive (tests/test_find.py).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import redis

from . import keys, metrics
from .jobs import FIND, TIMEOUT
from .queue import Delivery, Queue

if TYPE_CHECKING:  # the worker imports this module
    from .worker import Worker

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)


def beat(worker: Worker) -> None:
    """Beat for `worker` until it stops."""
    r = redis.Redis.from_url(worker.url)
    queue = Queue(r, worker.name, worker.settings.reading_ttl_s, worker.queue.readings_budget)
    every = max(0.05, min(5.0, worker.settings.claim_idle_s / 3))
    while True:
        try:
            beat_once(worker, r, queue)
        except REDIS_DOWN as e:
            log.debug("heartbeat: %s", e)
        except Exception:
            log.exception("heartbeat of worker %s failed", worker.name)
        if worker.stopping.wait(every):
            break
    r.close()


def beat_once(worker: Worker, r: redis.Redis, queue: Queue) -> None:
    now = time.time()
    in_hand = worker.in_hand()
    current = worker.desk.current
    pipe = r.pipeline(transaction=False)
    pipe.zadd(keys.WORKERS, {worker.name: now})
    pipe.zremrangebyscore(keys.WORKERS, "-inf", now - 24 * 3600)
    pipe.hset(
        keys.worker(worker.name),
        mapping={
            "device": worker.device,
            "beat": now,
            "answered": worker.answered,
            "in_hand": len(in_hand),
            "current": current[0][0].job_id if current else "",
        },
    )
    pipe.expire(keys.worker(worker.name), keys.HEARTBEAT_TTL_S)
    pipe.zcount(keys.WORKERS, now - keys.HEARTBEAT_TTL_S, "+inf")
    *_, alive = pipe.execute()
    metrics.QUEUE_DEPTH.set(queue.depth())  # both lanes
    metrics.WORKERS_ALIVE.set(alive)
    queue.touch_all(in_hand)
    if current is not None:
        watch(worker, queue, *current)


def watch(worker: Worker, queue: Queue, deliveries: list[Delivery], since: float) -> None:
    """Answer jobs past their time limit; end a process whose read never returns."""
    running = time.perf_counter() - since
    limit = worker.settings.job_timeout_s
    for d in deliveries:
        finding = d.job is not None and d.job.kind == FIND
        limit = worker.settings.find_timeout_s if finding else worker.settings.job_timeout_s
        if running > limit and d.handle not in worker.timed_out:
            worker.timed_out.add(d.handle)
            log.error("job %s ran past %g s; answering it with a timeout", d.job_id, limit)
            message = (
                f"the find took longer than {limit:g} s; try fewer pairs or steps"
                if finding
                else f"reading this volume took longer than {limit:g} s; try fewer tokens"
            )
            queue.finish(d, worker.desk.failure(d, TIMEOUT, message))
    if worker.exit_on_hang and running > 2 * limit + 30:
        log.critical("worker %s is stuck on job %s; exiting", worker.name, deliveries[0].job_id)
        os._exit(70)
