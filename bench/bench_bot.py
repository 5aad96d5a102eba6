"""What the people's side adds on top of the queue: parsing, limits, state, safety, pages.

    .venv/bin/python bench/bench_bot.py [--runs 200]

Prints one table of p50/p95 over --runs runs, on the embedded Redis in a temporary folder:
- a command answered by the runner (`help`: parse, limits in Redis, the reply);
- a cached reading through the runner (`Runner.handle`: parse, limits in Redis, the client's
  cache hit, per-person memory, the reply), tiny edition;
- escaping and fitting a 10,000-character hostile reading into a Discord embed;
- drawing a t5-small page (build the volume, then draw) and serving it again from Redis;
- a find of one pair (tiny), from `find P | A` to the found card through the runner, beside
  the same kind of find submitted straight to the client (`Job.find`, `LibraryClient.request`):
  what the people's side adds to the dearest command (a new pair each run: no stored answer).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import redis.asyncio

from babel_core.client import LibraryClient
from babel_core.jobs import Job
from babel_core.redis_conn import connect
from babel_core.settings import Settings
from babel_core.worker import Worker
from bot.actor import Actor
from bot.commands.runner import Runner
from bot.safety import fit_embed

HOSTILE = "@everyone look <@123> join discord.gg/abc https://x.example.com **loud** \u200b"


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def timed(make, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await make()
        out.append(time.perf_counter() - start)
    return out


async def measure(settings: Settings, url: str, runs: int) -> list[tuple[str, list[float]]]:
    r = redis.asyncio.Redis.from_url(url)
    client = LibraryClient(r, settings)
    tiny = Runner(settings, r, client)
    small = Runner(replace(settings, edition="t5-small"), r, client)
    me = Actor("bench", "bench")
    first = await tiny.handle("read babel-w3-s2-v17 bench", me)  # the worker reads it once
    assert first.kind == "reading", first
    rows = [
        ("help (runner)", await timed(lambda: tiny.handle("help", me), runs)),
        (
            "cached reading through the runner (tiny)",
            await timed(lambda: tiny.handle("read babel-w3-s2-v17 bench", me), runs),
        ),
    ]
    reading = (HOSTILE * 200)[:10_000]
    fields = [("Prompt", "bench"), ("Fingerprint", "0123456789ab")]

    async def fit():
        fit_embed("babel-w3-s2-v17", reading, fields, "t5-small/v1")

    rows.append(("escape + fit a 10,000-char reading", await timed(fit, runs)))
    drawn = []
    for n in range(1, 6):  # a new page each time: each builds the volume and draws
        drawn += await timed(lambda n=n: small.handle(f"page babel-w3-s2-v17 {n}", me), 1)
    rows.append(("t5-small page, drawn by the worker", drawn))
    rows.append(
        (
            "t5-small page, again (from Redis)",
            await timed(lambda: small.handle("page babel-w3-s2-v17 1", me), runs // 10),
        )
    )
    finds = max(runs // 10, 3)
    await _found(tiny.handle("find Warm? | Yes.", me))  # the worker's first find loads its parts
    by_runner, by_client = [], []
    for n in range(finds):  # alternated, so both see the same load
        by_runner += await timed(lambda n=n: _found(tiny.handle(f"find Runner {n}? | Yes.", me)), 1)
        job = Job.find([(f"Client {n}?", "Yes.")], edition="tiny")
        by_client += await timed(lambda job=job: _found(client.request(job, "bench")), 1)
    rows.append(("find 1 pair (tiny), through the runner", by_runner))
    rows.append(("find 1 pair (tiny), Job.find direct", by_client))
    await client.close()
    await r.aclose()
    return rows


async def _found(answer) -> None:
    """Await a find and make sure it found (a refusal or error would time nothing)."""
    got = await answer
    assert getattr(got, "ok", None) or getattr(got, "kind", None) == "reading", got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            edition="tiny",
            data_dir=Path(folder),
            cooldown_s=0.0,
            find_cooldown_s=0.0,
            commands_per_10s=0,
            weights_in_redis="off",
        )
        with connect(settings) as target:
            settings = replace(settings, redis_url=target.url)
            worker = Worker(settings, target.url, name="bench")
            worker.queue.ensure_group()
            thread = worker.start_thread()
            rows = asyncio.run(measure(settings, target.url, args.runs))
            worker.stop()
            thread.join(30)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"| {'what':40} | {'runs':>5} | {'p50 ms':>9} | {'p95 ms':>9} |")
    print(f"|{'-' * 42}|{'-' * 7}|{'-' * 11}|{'-' * 11}|")
    for what, samples in rows:
        p50, p95 = stats(samples)
        print(f"| {what:40} | {len(samples):>5} | {p50 * 1e3:>9.2f} | {p95 * 1e3:>9.2f} |")


if __name__ == "__main__":
    main()
