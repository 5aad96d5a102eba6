"""Fair scheduling: readings beside a big hunt, and two people's hunts side by side.

    PYTHONPATH=. .venv/bin/python bench/bench_lanes.py [--readings 200] [--rounds 10] [--workers 1]

On a fresh embedded Redis with `shelf worker` processes (tiny edition, 32 tokens, each worker
one torch and one numba thread), prints two tables:

- the latency (p50, p95) of interactive readings, one person asking one at a time with a
  random pause between (50-150 ms, so a reading arrives at any point of a worker's batch),
  with the queue empty and with a 1,024-volume hunt always queued (when one ends, another
  starts), in alternating blocks (the host's load drifts), and the busy p50's ratio to the idle
  p50 (the target: at most 1.5x);
- two people's 1,024-volume hunts, the second asked once the first is wholly queued: volumes
  per second of each while both ran, and where each stood when the other finished.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_service import worker_processes  # this script's folder is on sys.path

from babel_core import hunt as hunting
from babel_core.hunt import Hunt, HuntProgress
from babel_core.jobs import MISS, Job
from babel_core.redis_conn import connect
from babel_core.settings import Settings

TOKENS = 32
HUNT_VOLUMES = 1024


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def readings(client, tag: str, n: int, rng: random.Random) -> list[float]:
    """n cold readings, one at a time with a random pause between; seconds each."""
    seconds = []
    for i in range(n):
        await asyncio.sleep(rng.uniform(0.05, 0.15))
        job = Job.read(f"{tag}{i}-w1-s1-v1", max_tokens=TOKENS, edition="tiny")
        start = time.perf_counter()
        result = await client.request(job, "reader", timeout=600)
        seconds.append(time.perf_counter() - start)
        assert result.ok and result.cache == MISS, (result.error, result.cache)
    return seconds


async def warm_up(client) -> None:
    """Compile the build kernels and load the scorers in every worker before measuring."""
    jobs = [Job.read(f"warm{i}-w1-s1-v1", max_tokens=TOKENS, edition="tiny") for i in range(8)]
    await asyncio.gather(*(client.request(job, "warm", timeout=600) for job in jobs))
    await hunting.run(client, Hunt.new(256, max_tokens=TOKENS, edition="tiny"), "warm")


async def beside_a_hunt(client, tag: str, n: int, rng: random.Random) -> tuple[list[float], int]:
    """n readings with a 1,024-volume hunt always queued (when one ends another starts), then
    the hunt cancelled and the queue drained; (seconds each, volumes the hunts read)."""
    done, current, volumes = asyncio.Event(), [], [0]

    async def keep_hunting() -> None:
        while not done.is_set():
            current[:] = [Hunt.new(HUNT_VOLUMES, max_tokens=TOKENS, edition="tiny")]
            outcome = await hunting.run(client, current[0], "hunter", server="s1")
            volumes[0] += outcome.volumes_read

    hunter = asyncio.create_task(keep_hunting())
    await asyncio.sleep(0.5)  # the hunt is under way
    seconds = await readings(client, tag, n, rng)
    done.set()
    await hunting.cancel(client, current[0].id, "hunter")
    await hunter
    return seconds, volumes[0]


async def side_by_side(client) -> list[tuple[str, int, float, int, float]]:
    """Two people's hunts: (who, volumes, volumes/s while both ran, volumes done when the other
    finished, seconds to finish)."""
    seen: dict[str, list[tuple[float, int]]] = {"A": [], "B": []}
    start = time.perf_counter()

    def follow(who: str):
        def on_progress(p: HuntProgress) -> None:
            seen[who].append((time.perf_counter() - start, p.volumes_done))

        return on_progress

    def hunt_of(who: str):
        hunt = Hunt.new(HUNT_VOLUMES, max_tokens=TOKENS, edition="tiny")
        return hunting.run(client, hunt, f"person-{who}", follow(who), server="s1")

    first = asyncio.create_task(hunt_of("A"))
    while not seen["A"]:  # A's whole hunt is queued (its first progress comes after that)
        await asyncio.sleep(0.01)
    second = asyncio.create_task(hunt_of("B"))
    await asyncio.gather(first, second)
    ends = {who: marks[-1][0] for who, marks in seen.items()}
    both = min(ends.values())  # both ran from B's first report to the first end
    begin = seen["B"][0][0]
    rows = []
    for who, other in (("A", "B"), ("B", "A")):
        marks = seen[who]
        at_begin = max(v for t, v in marks if t <= begin)
        at_end = max(v for t, v in marks if t <= both)
        at_other_end = max(v for t, v in marks if t <= ends[other])
        rate = (at_end - at_begin) / max(both - begin, 1e-9)
        rows.append((who, HUNT_VOLUMES, rate, at_other_end, ends[who]))
    return rows


async def bench(url: str, data_dir: Path, n: int, rounds: int, workers: int) -> None:
    rng = random.Random(2026)
    idle, busy, volumes, busy_s = [], [], 0, 0.0
    async with worker_processes(url, data_dir, workers, "tiny", "cpu", threads=1) as client:
        await warm_up(client)
        for r in range(rounds):  # idle and busy blocks alternate: the host's load drifts
            idle += await readings(client, f"idle{r}x", n // rounds, rng)
            start = time.perf_counter()
            seconds, read = await beside_a_hunt(client, f"busy{r}x", n // rounds, rng)
            busy, volumes, busy_s = (
                busy + seconds,
                volumes + read,
                busy_s + time.perf_counter() - start,
            )
        await asyncio.sleep(2.5)  # past worker.READING_S: hunts alone go at whole batches
        pairs = await side_by_side(client)
    idle_p50 = pct(idle, 50)
    print(
        f"| {'readings (tiny, 32 tokens)':<38} | {'n':>4} | {'p50 ms':>7} | {'p95 ms':>7} | note |"
    )
    print(f"|{'-' * 40}|{'-' * 5}:|{'-' * 8}:|{'-' * 8}:|------|")
    for what, values, note in (
        ("queue empty", idle, ""),
        (
            f"a {HUNT_VOLUMES:,}-volume hunt queued",
            busy,
            f"p50 {pct(busy, 50) / idle_p50:.2f}x idle; the hunts read {volumes / busy_s:.0f} "
            "volumes/s meanwhile",
        ),
    ):
        print(
            f"| {what:<38} | {len(values):>4} | {pct(values, 50) * 1000:>7.1f} | "
            f"{pct(values, 95) * 1000:>7.1f} | {note} |"
        )
    print()
    print(
        "| hunt (asked in this order) | volumes | volumes/s while both ran | "
        "done when the other finished | finished after |"
    )
    print("|---|---:|---:|---:|---:|")
    for who, volumes, both_rate, done, end in pairs:
        print(f"| person {who} | {volumes:,} | {both_rate:.0f} | {done:,} | {end:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=200, help="readings per row")
    parser.add_argument("--rounds", type=int, default=10, help="idle and busy blocks, alternated")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, connect(Settings(data_dir=Path(tmp))) as target:
        print(
            f"# bench_lanes: {platform.processor() or platform.machine()}, {os.cpu_count()} "
            f"CPUs, torch {torch.__version__}, {args.workers} worker process(es) x 1 thread, "
            f"embedded Redis; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
        )
        asyncio.run(bench(target.url, Path(tmp), args.readings, args.rounds, args.workers))
    load = os.getloadavg()
    print(f"# load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")


if __name__ == "__main__":
    main()
