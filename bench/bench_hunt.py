"""Hunt throughput through the queue: volumes per second with 1 and 2 worker processes.

    PYTHONPATH=. .venv/bin/python bench/bench_hunt.py              # tiny 512, t5-small 64 volumes
    PYTHONPATH=. .venv/bin/python bench/bench_hunt.py --quick      # tiny 128, t5-small 32

For each edition: one hunt (16 new tokens, the default scorer) read in this process with
`hunt_here` (a FastReader of --batch volumes, all cores), then the same hunt through the
embedded Redis with 1 and with 2 `shelf worker` processes (each with cores / workers threads,
BABEL_WORKER_BATCH = --batch). The jobs' stored answers are deleted between runs, so every run
reads every volume; every run must find the same best volumes as the local one. Each worker
process first reads a one-volume hunt, so that its FastReader exists before the clock starts.
Batched reading itself (volumes/s by batch size) is bench/bench_read.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import redis
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_service import worker_processes  # noqa: E402

from babel_core import hunt as hunting  # noqa: E402
from babel_core import keys  # noqa: E402
from babel_core.edition import get_edition  # noqa: E402
from babel_core.fastread import FastReader  # noqa: E402
from babel_core.jobs import Result  # noqa: E402
from babel_core.redis_conn import connect  # noqa: E402
from babel_core.settings import Settings  # noqa: E402

PROMPT = "What is written in this book?"
TOKENS = 16
ROWS: list[tuple] = []


def local(hunt: hunting.Hunt, batch: int) -> hunting.Outcome:
    fast = FastReader(get_edition(hunt.edition), batch)
    hunting.hunt_here(hunting.Hunt.new(1, PROMPT, TOKENS, hunt.edition, seed=0), fast)  # warm
    return hunting.hunt_here(hunt, fast)


async def through_queue(url: str, data_dir: Path, workers: int, hunt: hunting.Hunt):
    with redis.Redis.from_url(url) as r:  # every run reads every volume
        r.delete(*(keys.result(job.id) for job in hunt.jobs()))
    async with worker_processes(url, data_dir, workers, hunt.edition, "cpu") as client:
        warm = [hunting.Hunt.new(1, PROMPT, TOKENS, hunt.edition, seed=9_000 + n) for n in range(4)]
        await asyncio.gather(*(hunting.run(client, w, "bench") for w in warm[:workers]))
        start = time.perf_counter()
        outcome = await hunting.run(client, hunt, "bench")
        seconds = time.perf_counter() - start
        with redis.Redis.from_url(url) as r:
            by = [Result.from_json(r.get(keys.result(job.id))).worker for job in hunt.jobs()]
    return outcome, seconds, sorted(by.count(name) for name in set(by))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", type=int, default=512, help="volumes in the tiny hunt")
    parser.add_argument("--small", type=int, default=64, help="volumes in the t5-small hunt")
    parser.add_argument("--batch", type=int, default=8, help="volumes read at once")
    parser.add_argument("--quick", action="store_true", help="tiny 128, t5-small 32")
    args = parser.parse_args()
    if args.quick:
        args.tiny, args.small = 128, 32
    os.environ["BABEL_WORKER_BATCH"] = str(args.batch)  # the worker processes' batch
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp, connect(Settings(data_dir=Path(tmp))) as target:
        for edition, count in (("tiny", args.tiny), ("t5-small", args.small)):
            hunt = hunting.Hunt.new(count, PROMPT, TOKENS, edition, seed=2026)
            start = time.perf_counter()
            here = local(hunt, args.batch)
            seconds = time.perf_counter() - start
            ROWS.append((edition, "in process", count, seconds, count / seconds, "-"))
            for workers in (1, 2):
                outcome, seconds, shares = asyncio.run(
                    through_queue(target.url, Path(tmp), workers, hunt)
                )
                assert outcome.best == here.best, "the queue found other volumes than local"
                assert outcome.volumes_read == count
                share = " + ".join(map(str, shares))
                ROWS.append(
                    (edition, f"{workers} worker(s)", count, seconds, count / seconds, share)
                )
            load.append(os.getloadavg()[0])
    cpu = platform.processor() or platform.machine()
    print(
        f"# bench_hunt: {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, batch "
        f"{args.batch}, {TOKENS} new tokens, load average {' -> '.join(f'{x:.1f}' for x in load)}"
    )
    print("| edition | read by | volumes | seconds | volumes/s | jobs per worker |")
    print("|---|---|---:|---:|---:|---|")
    for edition, how, count, seconds, rate, share in ROWS:
        print(f"| {edition} | {how} | {count} | {seconds:.1f} | {rate:.1f} | {share} |")


if __name__ == "__main__":
    main()
