"""What a worker takes in a turn: interactive work first, bulk work round-robin (lanes.py).

The order, every turn:

1. the interactive lane (`keys.JOBS`): jobs handed back by other workers (when the worker is
   idle or just handed jobs back) or, every claim_idle_s / 2, those of silent workers
   (XAUTOCLAIM); then new jobs (XREADGROUP), up to settings.worker_batch;
2. only when no interactive job waits, the bulk lane: the same reclaims over its streams
   (which also forget the streams emptied), then new jobs from the requester whose turn it is
   (queue_scripts.TAKE_BULK), up to the hunt jobs a turn holds;
3. with both lanes empty: wait up to IDLE_BLOCK_MS for an interactive job (a new bulk job is
   seen on the next turn).

A bulk reclaim that falls due while interactive work waits stays due until a quiet turn: bulk
work waits for interactive work, reclaimed or not. While the worker reads bulk work it also
takes the interactive jobs waiting before each batch of volumes, and reads bulk work in bites
while people are reading (`Worker._pace`).
"""

from __future__ import annotations

import threading
import time

from .jobs import HUNT
from .queue import Delivery, Queue
from .queue_scripts import HAND_BACK_IDLE_MS
from .settings import Settings

IDLE_BLOCK_MS = 250  # both lanes empty: wait this long on the interactive lane, then look again


class Intake:
    """One worker's taking of jobs, with its reclaim clocks (one per lane)."""

    def __init__(
        self, queue: Queue, settings: Settings, hunts_per_turn: int, stopping: threading.Event
    ):
        self.queue = queue
        self.batch = settings.worker_batch
        self.every_s = settings.claim_idle_s / 2
        self.claim_idle_ms = int(settings.claim_idle_s * 1000)
        self.hunts_per_turn = hunts_per_turn
        self.stopping = stopping
        self.next_reclaim = 0.0  # monotonic time of the next reclaim of silent workers' jobs
        self.next_bulk_reclaim = 0.0  # the same in the bulk lane (it may wait for a quiet turn)

    def take(self, look: bool) -> list[Delivery]:
        """This turn's jobs (the module docstring); `look`: take jobs handed back."""
        now = time.monotonic()
        if now >= self.next_reclaim:
            self.next_reclaim = now + self.every_s
            batch = self.reclaim(self.claim_idle_ms)
        else:
            batch = self.reclaim(HAND_BACK_IDLE_MS) if look else []
        if len(batch) < self.batch and not self.stopping.is_set():
            batch += self.new(self.batch - len(batch), None)
        if batch or self.stopping.is_set():
            return batch
        count = self.hunts_per_turn
        if look or now >= self.next_bulk_reclaim:
            batch = self.queue.reclaim_bulk(HAND_BACK_IDLE_MS, count)
        if now >= self.next_bulk_reclaim:
            self.next_bulk_reclaim = now + self.every_s
            if len(batch) < count:
                batch += self.queue.reclaim_bulk(self.claim_idle_ms, count - len(batch))
        return batch or self.queue.take_bulk(count) or self.new(self.batch, IDLE_BLOCK_MS)

    def reclaim(self, min_idle_ms: int) -> list[Delivery]:
        """Interactive jobs handed back by other workers, then (min_idle_ms <
        HAND_BACK_IDLE_MS) those of silent workers, up to a batch; the "took over" lines are
        written by `Worker._process`."""
        claimed = self.queue.reclaim(HAND_BACK_IDLE_MS, self.batch)
        if min_idle_ms < HAND_BACK_IDLE_MS and len(claimed) < self.batch:
            claimed += self.queue.reclaim(min_idle_ms, self.batch - len(claimed))
        return claimed

    def new(self, room: int, block_ms: int | None) -> list[Delivery]:
        """New interactive jobs: one (waiting up to block_ms), then up to room - 1 more without
        waiting; when the first is a hunt job (queued in this lane before there were lanes), up
        to hunts_per_turn in all: the rest stays for others."""
        taken = self.queue.read_new(1, block_ms)
        if taken:
            more = (min(room, self.hunts_per_turn) if is_hunt(taken[0]) else room) - 1
            if more > 0:
                taken += self.queue.read_new(more, None)
        return taken


def is_hunt(d: Delivery) -> bool:
    return d.job is not None and d.job.kind == HUNT
