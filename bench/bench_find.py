"""Finds: success rate and time per find, and a find through the queue.

    .venv/bin/python bench/bench_find.py --edition tiny                   # 20 sets of 1, 5, 50
    .venv/bin/python bench/bench_find.py --edition t5-small --sets 1:10,5:10,50:3
    .venv/bin/python bench/bench_find.py --edition tiny --service 5       # + through a worker

Each set is random six-word prompts with four-word answers (words from a fixed list, drawn by
random.Random(set number)); each find has seed = the set number and the default step cap.
Times include everything `shelf find` does after start-up: the draw, training, the checks,
locate and writing the slip into a slip store (a temporary folder). Prints one table:
found / sets, and median and p90 seconds, steps and the share of each phase. With
`--service N`, N finds of one and of five pairs also go through a real worker on an embedded
Redis (as `shelf console` runs it), timed from submitting the job to its answer.
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

from babel_core.edition import get_edition
from babel_core.find import NotFound, find
from babel_core.slipstore import FileSlips

WORDS = (
    "the a of book shelf wall river stone light night red blue green cat dog bird sings reads "
    "under over why how where when old new small great house tree sea moon sun star door key "
    "road town king queen bread water fire snow rain wind song word name time day year"
).split()


def pairs_for(count: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(n)
    prompts: dict[str, str] = {}
    while len(prompts) < count:
        prompt = " ".join(rng.choice(WORDS) for _ in range(6)) + "?"
        prompts.setdefault(prompt, " ".join(rng.choice(WORDS) for _ in range(4)))
    return list(prompts.items())


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_sets(edition, count: int, sets: int, store, device: str) -> dict:
    times, steps, phases, found = [], [], {"train": [], "check": [], "locate": [], "write": []}, 0
    for n in range(sets):
        start = time.perf_counter()
        try:
            f = find(edition, pairs_for(count, n), seed=n, device=device)
        except NotFound as e:
            print(f"  {count} pairs, set {n}: not found ({e})", flush=True)
            continue
        began = time.perf_counter()
        store.put(edition, f.location.digits)
        write = time.perf_counter() - began
        found += 1
        times.append(time.perf_counter() - start)
        steps.append(f.steps)
        for k in ("train", "check", "locate"):
            phases[k].append(f.seconds[k])
        phases["write"].append(write)
        print(f"  {count} pairs, set {n}: {f.steps} steps, {times[-1]:.2f} s", flush=True)
    return {"count": count, "sets": sets, "found": found, "times": times, "steps": steps,
            "phases": phases}  # fmt: skip


async def through_queue(edition_name: str, counts: list[int], runs: int) -> list[tuple]:
    import redis.asyncio

    from babel_core.client import LibraryClient
    from babel_core.jobs import Job
    from babel_core.redis_conn import connect
    from babel_core.settings import Settings
    from babel_core.worker import Worker

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(edition=edition_name, data_dir=Path(folder), weights_in_redis="off")
        with connect(settings) as target:
            worker = Worker(settings, target.url, name="bench-find")
            worker.warm_up(edition_name)
            thread = worker.start_thread()
            r = redis.asyncio.Redis.from_url(target.url)
            client = LibraryClient(r, settings, poll_s=0.2)
            try:
                for count in counts:
                    waits, inside = [], []
                    for n in range(runs):
                        job = Job.find(pairs_for(count, 1000 + n), seed=n, edition=edition_name)
                        start = time.perf_counter()
                        result = await client.request(job, "bench", timeout=3600)
                        waits.append(time.perf_counter() - start)
                        assert result.ok, result.error
                        inside.append(result.timings["total"])
                    rows.append((count, runs, waits, inside))
            finally:
                worker.stop()
                thread.join(60)
                await client.close()
                await r.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edition", default="tiny")
    parser.add_argument("--sets", default="1:20,5:20,50:20", help="PAIRS:SETS,...")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--service", type=int, default=0, help="finds through a worker, each")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    edition = get_edition(args.edition)
    load = os.getloadavg()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, {args.threads} threads; load {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at the start",
        flush=True,
    )
    find(edition, [("warm up", "yes")], steps=50)  # numba caches, the vocabulary, the reader
    results = []
    with tempfile.TemporaryDirectory() as folder:
        store = FileSlips(folder, 10**12)
        for spec in args.sets.split(","):
            count, sets = map(int, spec.split(":"))
            results.append(run_sets(edition, count, sets, store, args.device))
    service = asyncio.run(through_queue(args.edition, [1, 5], args.service)) if args.service else []
    end = os.getloadavg()
    print(f"\nload {end[0]:.2f} {end[1]:.2f} {end[2]:.2f} at the end\n")
    print(f"{edition.id}, {args.device}: find + locate + slip write")
    print("| pairs | found | median s | p90 s | median steps | train | check | locate | write |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if not r["times"]:
            print(f"| {r['count']} | 0/{r['sets']} | - | - | - | - | - | - | - |")
            continue
        med = {k: statistics.median(v) for k, v in r["phases"].items()}
        print(
            f"| {r['count']} | {r['found']}/{r['sets']} | {statistics.median(r['times']):.2f} | "
            f"{pct(r['times'], 90):.2f} | {statistics.median(r['steps']):.0f} | "
            f"{med['train']:.2f} | {med['check']:.2f} | {med['locate']:.2f} | {med['write']:.2f} |"
        )
    if service:
        print("\nthrough the queue (an in-process worker on the embedded Redis)")
        print("| pairs | finds | submit to answer, median s | in the worker, median s |")
        print("|---:|---:|---:|---:|")
        for count, runs, waits, inside in service:
            print(
                f"| {count} | {runs} | {statistics.median(waits):.2f} | "
                f"{statistics.median(inside):.2f} |"
            )


if __name__ == "__main__":
    main()
