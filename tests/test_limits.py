"""Limits that keep a crowd from breaking the library: the queue cap, positions that cost
O(log N), the readings' byte budget, the front end's connection pool, hunts that stream."""

from __future__ import annotations

import asyncio
import io
import re
import time
import tracemalloc

import pytest
import redis
import redis.asyncio

from babel_core import keys
from babel_core.client import LibraryBusy, LibraryClient
from babel_core.jobs import Job, Result
from babel_core.queue import Queue, enqueue_keys, ensure_group
from babel_core.redis_conn import RedisTarget
from tests.conftest import service_settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_job(address: str, prompt: str = "limits", tokens: int = 2) -> Job:
    return Job.read(address, prompt, tokens, edition="tiny")


async def test_past_the_queue_cap_a_request_hears_the_library_is_busy(redis_server):
    r = redis.asyncio.Redis.from_url(redis_server.url)
    client = LibraryClient(r, service_settings(redis_server, queue_cap=3))
    try:
        for v in (1, 2, 3):
            await client.submit(tiny_job(f"cap-w1-s1-v{v}"), "user:1")
        with pytest.raises(LibraryBusy) as busy:
            await client.submit(tiny_job("cap-w1-s1-v4"), "user:2")
        assert str(busy.value) == (
            "the library is busy (3 requests are waiting); please try again in a minute"
        )
        joined = await client.submit(tiny_job("cap-w1-s1-v1"), "user:2")  # no new entry
        assert joined.shared and await r.xlen(keys.JOBS) == 3
        stored = tiny_job("cap-w1-s1-v9")  # a stored reading needs no place in line
        await r.set(keys.result(stored.id), Result(stored.id, stored, True, "x").to_json())
        assert (await client.submit(stored, "user:2")).cached is not None
    finally:
        await client.close()
        await r.aclose()


async def test_a_hunt_that_meets_the_cap_is_refused_whole(redis_server):
    from babel_core.hunt import Hunt, run

    r = redis.asyncio.Redis.from_url(redis_server.url)
    client = LibraryClient(r, service_settings(redis_server, queue_cap=3))
    try:
        await client.submit(tiny_job("cap-w1-s1-v1"), "user:1")
        with pytest.raises(LibraryBusy):
            await run(client, Hunt.new(5 * 32, "p", 2, "tiny", seed=1), "user:2")
        assert await r.xlen(keys.JOBS) == 1  # the two hunt jobs it queued were withdrawn
    finally:
        await client.close()
        await r.aclose()


async def test_a_position_at_5000_costs_well_under_a_millisecond(redis_server, client):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    queue = Queue(r, "w", 3600)
    jobs = [tiny_job(f"line{n}-w1-s1-v1") for n in range(5000)]
    pipe = r.pipeline(transaction=False)
    for job in jobs:  # ENQUEUE, 5,000 times in one round trip
        queue._enqueue(
            keys=enqueue_keys(job.id),
            args=[job.id, job.to_json(), "u", time.time(), 0],
            client=pipe,
        )
    pipe.execute()
    assert await client.position(jobs[-1].id) == 5000
    queue.read_new(10, None)  # ten of them are taken
    assert [await client.position(j.id) for j in (jobs[0], jobs[10], jobs[-1])] == [0, 1, 4990]
    r.execute_command("SLOWLOG", "RESET")
    r.config_set("slowlog-max-len", 1000)
    r.config_set("slowlog-log-slower-than", 0)
    for _ in range(50):
        await client.position(jobs[-1].id)
    costs = [e["duration"] for e in r.slowlog_get(1000) if b"EVALSHA" in e["command"]]
    r.config_set("slowlog-log-slower-than", 10000)
    assert len(costs) == 50 and sorted(costs)[25] < 200  # µs of Redis time; was 11,500


def test_stored_readings_keep_within_their_byte_budget_least_recently_used_first(redis_server):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    queue = Queue(r, "w", 3600, readings_budget=20_000)
    jobs = [tiny_job(f"budget{n}-w1-s1-v1") for n in range(60)]
    for n, job in enumerate(jobs):
        queue.enqueue(job, "u")
        [d] = queue.start(queue.read_new(1, None))
        assert queue.finish(d, Result(job.id, job, True, text="x" * 1000, fingerprint="f"))
        if n == 10:  # asked again: its reading was used just now
            assert queue.enqueue(jobs[0], "u")[0] == "cached"
    sizes = [r.strlen(keys.result(j.id)) for j in jobs]
    assert sum(sizes) <= 20_000 and int(r.get(keys.READINGS_BYTES)) == sum(sizes)
    kept = [n for n, size in enumerate(sizes) if size]
    assert kept[-1] == 59 and len(kept) == 20_000 // sizes[-1]  # the newest, as many as fit
    assert 0 not in kept and 1 not in kept  # the oldest went first; used again at 10, then aged


async def test_200_concurrent_requests_in_one_process_are_all_answered(redis_server, workers):
    crowd = [tiny_job(f"crowd-w{1 + n % 4}-s1-v{1 + n % 35}", f"p{n // 140}") for n in range(200)]
    assert len({j.id for j in crowd}) == 200
    plain = redis.asyncio.Redis.from_url(redis_server.url)  # redis-py's own pool: 100 at most
    refused = await asyncio.gather(
        *(plain.blpop(["nothing"], 0.2) for _ in range(200)), return_exceptions=True
    )
    assert sum(isinstance(o, redis.ConnectionError) for o in refused) == 100
    await plain.aclose()
    workers(service_settings(redis_server, worker_batch=32))
    r = RedisTarget(redis_server.url).asyncio()  # the front end's: 64, blocking with a timeout
    client = LibraryClient(r, service_settings(redis_server), poll_s=0.5)
    try:
        results = await asyncio.gather(
            *(client.request(job, f"user:{n}", timeout=120) for n, job in enumerate(crowd))
        )
        assert [res.ok for res in results] == [True] * 200
        pool = r.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 64
    finally:
        await client.close()
        await r.aclose()


def test_shelf_hunt_of_a_million_streams_its_jobs_in_flat_memory(monkeypatch):
    from babel_core import cli, hunt

    class Enough(Exception):
        pass

    made, read, grew = [0], [0], [0]
    make, read_job = hunt.Hunt.job, hunt.read_job

    def counted_job(self, chunk):
        made[0] += 1
        return make(self, chunk)

    def counted_read(fast, job):
        read[0] += 1
        assert made[0] <= read[0] + 1  # one job made ahead at most (Hunt.new checks job 0)
        if read[0] == 3:  # the reader is warm: from here on, memory must not grow
            tracemalloc.start()
        if read[0] == 12:
            grew[0] = tracemalloc.get_traced_memory()[1]
            raise Enough
        return read_job(fast, job)

    monkeypatch.setattr(hunt.Hunt, "job", counted_job)
    monkeypatch.setattr(hunt, "read_job", counted_read)
    shown = io.StringIO()
    shown.isatty = lambda: True  # a terminal: the progress bar is drawn
    monkeypatch.setattr("sys.stderr", shown)
    try:
        with pytest.raises(Enough):
            cli.main(["hunt", "1000000", "--edition", "tiny", "--max-tokens", "2"])
    finally:
        tracemalloc.stop()
    assert (read[0], made[0]) == (12, 13)
    counts = [int(n) for n in re.findall(r"hunting ([0-9]+)/1000000 volumes", shown.getvalue())]
    assert max(counts) >= 32  # the bar moved job by job (tqdm redraws it at its own pace)
    assert grew[0] < 2**20  # peak over 9 jobs, allocated since the 3rd: under 1 MB
