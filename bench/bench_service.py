"""The service end to end: client -> Redis queue -> worker -> reply, on the embedded Redis.

    .venv/bin/python bench/bench_service.py [--small-jobs 10] [--tiny-jobs 100]

Prints one table:
- latency p50/p95 of `LibraryClient.request` with an in-process worker (a thread, as in
  `shelf console`): cold volume (built from its address), warm volume (restored from the
  worker's LRU), cached reading (served from Redis, no worker involved);
- the queue's overhead: end-to-end time minus the worker's own time for the job (tiny edition,
  whose model time is small, and t5-small);
- t5-small: rebuilding a volume vs fetching its weights from Redis vs restoring from the LRU;
- throughput with 1 and 2 `shelf worker` processes (each with cores / workers threads).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio
import torch

from babel_core import keys
from babel_core.cache import VolumeLRU, measure_weights_tier
from babel_core.client import LibraryClient
from babel_core.edition import T5_SMALL
from babel_core.fastread import FastReader
from babel_core.jobs import MISS, READING, VOLUME, Job
from babel_core.redis_conn import connect
from babel_core.settings import Settings
from babel_core.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
ROWS: list[tuple[str, str, str, str]] = []


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def row(what: str, values: list[float], note: str = "") -> None:
    ms = [v * 1000 for v in values]
    ROWS.append((what, f"{pct(ms, 50):.1f}", f"{pct(ms, 95):.1f}", note or f"n={len(values)}"))


async def latencies(client, jobs, expect: str) -> tuple[list[float], list[float]]:
    """End-to-end seconds per job, and seconds beyond the worker's own time for it."""
    total, overhead = [], []
    for job in jobs:
        start = time.perf_counter()
        result = await client.request(job, "bench", timeout=600)
        elapsed = time.perf_counter() - start
        assert result.ok and result.cache == expect, (result.cache, expect, result.error)
        total.append(elapsed)
        overhead.append(elapsed - result.timings.get("total", 0.0))
    return total, overhead


async def in_process(url: str, small_jobs: int, tiny_jobs: int, tokens: int, device: str) -> None:
    for edition, n in (("tiny", tiny_jobs), ("t5-small", small_jobs)):
        settings = Settings(edition=edition, redis_url=url, weights_in_redis="off", device=device)
        worker = Worker(settings, url, name=f"bench-{edition}")
        worker.warm_up(edition)
        thread = worker.start_thread()
        r = redis.asyncio.Redis.from_url(url)
        client = LibraryClient(r, settings)
        tag = f"{edition}/{tokens} tok"
        cold = [Job.read(f"cold{i}-w1-s1-v1", f"p{i}", tokens, edition) for i in range(n)]
        total, over = await latencies(client, cold, MISS)
        row(f"{tag}: cold volume", total)
        row(f"{tag}: queue overhead, cold", over, "end to end - worker time")
        # the last two volumes built, read alternately: each read restores one from the LRU
        warm = [cold[-1 - i % 2].address for i in range(n)]
        warm = [Job.read(address, f"w{i}", tokens, edition) for i, address in enumerate(warm)]
        total, over = await latencies(client, warm, VOLUME)
        row(f"{tag}: warm volume (LRU)", total)
        row(f"{tag}: queue overhead, warm", over, "end to end - worker time")
        total, _ = await latencies(client, cold, READING)
        row(f"{tag}: cached reading", total, "no worker involved")
        await client.close()
        await r.aclose()
        worker.stop()
        thread.join()


def weights_tiers(url: str, repeats: int, device: str) -> None:
    reader = FastReader(T5_SMALL, device=device)
    with redis.Redis.from_url(url) as r:
        build, fetch = measure_weights_tier(reader, r, repeats=repeats)
    lru = VolumeLRU(2**30)
    lru.put(("e", "v"), reader.flat[0])
    restores = []
    for _ in range(repeats):
        start = time.perf_counter()
        lru.restore(("e", "v"), reader.flat[0])
        restores.append(time.perf_counter() - start)
    mb = T5_SMALL.param_count * 4 / 1e6
    ROWS.append(("t5-small: rebuild a volume", f"{build * 1000:.1f}", "", f"best of {repeats}"))
    ROWS.append(
        (
            "t5-small: fetch weights from Redis",
            f"{fetch * 1000:.1f}",
            "",
            f"{mb:.0f} MB, GET + copy",
        )
    )
    ROWS.append(
        ("t5-small: restore from worker LRU", f"{min(restores) * 1000:.1f}", "", "memory copy")
    )


@contextlib.asynccontextmanager
async def worker_processes(
    url: str, data_dir: Path, workers: int, edition: str, device: str, threads: int = 0
):
    """`shelf worker` processes on `url`, sharing the cores (or `threads` threads each);
    yields a client once all beat."""
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": url,
        "BABEL_EDITION": edition,
        "BABEL_WEIGHTS_IN_REDIS": "off",
        "BABEL_DATA_DIR": str(data_dir),
        "BABEL_DEVICE": device,
        # the workers share the cores: each gets its share of threads, torch's and the numba
        # build's (no oversubscription: spinning threads wait on descheduled partners)
        "OMP_NUM_THREADS": str(threads),
        "NUMBA_NUM_THREADS": str(threads),
    }
    command = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    processes = [
        subprocess.Popen([*command, "worker"], env=env, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    r = redis.asyncio.Redis.from_url(url)
    client = LibraryClient(r, Settings(redis_url=url))
    try:
        while await client.workers_alive() < workers:
            await asyncio.sleep(0.2)
        yield client
    finally:
        await client.close()
        await r.aclose()
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(60)
        with redis.Redis.from_url(url) as registry:
            for _ in range(100):  # stopped workers leave the registry on their way out
                if registry.zcard(keys.WORKERS) == 0:
                    break
                time.sleep(0.1)


async def subprocess_overhead(url: str, data_dir: Path, n: int, tokens: int, device: str) -> None:
    """The queue's overhead with the worker in its own process (no shared GIL)."""
    async with worker_processes(url, data_dir, 1, "tiny", device) as client:
        jobs = [Job.read(f"sub{i}-w1-s1-v1", f"s{i}", tokens, "tiny") for i in range(n)]
        total, over = await latencies(client, jobs, MISS)
    row(f"tiny/{tokens} tok, worker process: cold volume", total)
    row(f"tiny/{tokens} tok, worker process: queue overhead", over, "end to end - worker time")


async def throughput(
    url: str, data_dir: Path, workers: int, jobs: int, tokens: int, device: str
) -> float:
    async with worker_processes(url, data_dir, workers, "t5-small", device) as client:
        batch = [Job.read(f"tp{workers}x{i}-w1-s1-v1", "throughput", tokens) for i in range(jobs)]
        start = time.perf_counter()
        results = await asyncio.gather(
            *(client.request(job, "bench", timeout=600) for job in batch)
        )
        elapsed = time.perf_counter() - start
        assert all(res.ok for res in results)
        return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small-jobs", type=int, default=10, help="t5-small jobs per row")
    parser.add_argument("--tiny-jobs", type=int, default=100, help="tiny jobs per row")
    parser.add_argument("--tokens", type=int, default=32, help="max tokens per reading")
    parser.add_argument("--throughput-jobs", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda for every worker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, connect(Settings(data_dir=Path(tmp))) as target:
        asyncio.run(
            in_process(target.url, args.small_jobs, args.tiny_jobs, args.tokens, args.device)
        )
        asyncio.run(
            subprocess_overhead(target.url, Path(tmp), args.tiny_jobs, args.tokens, args.device)
        )
        weights_tiers(target.url, args.repeats, args.device)
        rates = {
            n: asyncio.run(
                throughput(target.url, Path(tmp), n, args.throughput_jobs, args.tokens, args.device)
            )
            for n in (1, 2)
        }
        for n, rate in rates.items():
            ROWS.append(
                (f"t5-small throughput, {n} worker process(es)", "", "", f"{rate:.2f} jobs/s")
            )
    cpu = platform.processor() or platform.machine()
    print(
        f"# bench_service: {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, embedded Redis, workers on {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
    )
    print(f"| {'what':<44} | {'p50 ms':>8} | {'p95 ms':>8} | note |")
    print(f"|{'-' * 46}|{'-' * 10}:|{'-' * 10}:|------|")
    for what, p50, p95, note in ROWS:
        print(f"| {what:<44} | {p50:>8} | {p95:>8} | {note} |")


if __name__ == "__main__":
    main()
