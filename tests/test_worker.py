"""Workers on a real Redis: sharing, crashes, dead letters, restarts, limits, shutdown."""

from __future__ import annotations

import asyncio
import signal

import redis

from babel_core import keys
from babel_core.jobs import DEAD, MEMORY, TIMEOUT, Job
from babel_core.queue import ensure_group
from tests.conftest import service_settings

PROMPT = "the worker"


def tiny_job(address: str = "babel-w3-s2-v17", prompt: str = PROMPT, tokens: int = 4) -> Job:
    return Job.read(address, prompt, tokens, edition="tiny")


def notices_for(r: redis.Redis, job_id: str) -> int:
    return sum(f[b"id"].decode() == job_id for _, f in r.xrange(keys.RESULTS))


async def test_two_workers_share_the_load(client, workers, redis_server):
    settings = service_settings(redis_server, worker_batch=1)
    a, b = workers(settings), workers(settings)
    jobs = [tiny_job(f"load-w1-s1-v{v}") for v in range(1, 9)]
    results = await asyncio.gather(*(client.request(job, "user:1", timeout=60) for job in jobs))
    assert all(r.ok for r in results)
    assert a.answered + b.answered == 8
    assert {r.worker for r in results} == {a.name, b.name}


async def test_a_killed_workers_job_is_finished_by_another_once(
    client, workers, worker_process, redis_server
):
    doomed = worker_process("--sleep-on", "slow", "60")
    job = tiny_job(prompt="slow")
    await client.submit(job, "user:1")
    assert doomed.stdout.readline().strip() == "job slow"  # it is reading the job now
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    survivor = workers()
    result = await client.wait(job.id, timeout=60)
    assert result.ok and result.worker == survivor.name
    r = redis.Redis.from_url(redis_server.url)
    assert notices_for(r, job.id) == 1
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 0


async def test_a_job_that_kills_every_worker_is_dead_lettered_with_one_error(
    client, worker_process, redis_server
):
    job = tiny_job(prompt="crash")
    await client.submit(job, "user:1")
    waiting = asyncio.create_task(client.wait(job.id, timeout=60))
    deaths = 0
    while not waiting.done():
        process = worker_process("--die-on", "crash")
        while process.poll() is None and not waiting.done():
            await asyncio.sleep(0.05)
        deaths += process.poll() == -signal.SIGKILL
    result = await waiting
    assert (result.ok, result.error_kind, deaths) == (False, DEAD, 3)
    assert "3 workers stopped while reading it" in result.error
    r = redis.Redis.from_url(redis_server.url)
    [(_, record)] = r.xrange(keys.DEAD)
    assert (record[b"id"].decode(), record[b"deliveries"], record[b"requesters"]) == (
        job.id,
        b"4",
        b"user:1",
    )
    assert notices_for(r, job.id) == 1
    assert r.xlen(keys.JOBS) == 0


async def test_a_worker_rides_out_a_redis_restart(client, workers, redis_server):
    worker = workers()
    first = await client.request(tiny_job("before-w1-s1-v1"), "user:1", timeout=60)
    redis_server.restart()  # the worker is blocked in XREADGROUP meanwhile
    second = await client.request(tiny_job("after-w1-s1-v1"), "user:1", timeout=60)
    assert first.ok and second.ok
    assert worker.answered == 2


async def test_jobs_queued_while_redis_restarts_are_kept(client, workers, redis_server):
    job = tiny_job()
    await client.submit(job, "user:1")
    redis_server.restart()  # the append-only file brings the job back
    workers()
    result = await client.wait(job.id, timeout=60)
    assert result.ok


async def test_a_job_past_its_time_limit_gets_one_timeout_answer(client, workers, redis_server):
    settings = service_settings(redis_server, job_timeout_s=0.3, claim_idle_s=0.3)
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def before_job(job):
        if job.prompt == "stuck":
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result(30)

    worker = workers(settings, before_job=before_job)
    job = tiny_job(prompt="stuck")
    result = await client.request(job, "user:1", timeout=30)
    release.set()
    after = await client.request(tiny_job(prompt="next"), "user:1", timeout=30)
    assert (result.ok, result.error_kind) == (False, TIMEOUT)
    assert result.error == "reading this volume took longer than 0.3 s; try fewer tokens"
    assert after.ok and worker.answered == 1  # the late reading of the stuck job is dropped
    assert notices_for(redis.Redis.from_url(redis_server.url), job.id) == 1


async def test_out_of_memory_fails_only_that_job(client, workers):
    def before_job(job):
        if job.prompt == "huge":
            raise MemoryError

    workers(before_job=before_job)
    huge, fine = tiny_job(prompt="huge"), tiny_job(prompt="fine")
    bad, good = await asyncio.gather(
        client.request(huge, "user:1", timeout=60), client.request(fine, "user:1", timeout=60)
    )
    assert (bad.ok, bad.error_kind, good.ok) == (False, MEMORY, True)
    again = await client.submit(huge, "user:1")
    assert again.cached is None  # an error answer is not a stored reading: asking again retries


async def test_sigterm_finishes_the_job_in_hand_and_hands_back_the_rest(
    client, workers, worker_process, redis_server
):
    leaving = worker_process("--sleep-on", "slow", "1", BABEL_WORKER_BATCH="2")
    slow, other = tiny_job(prompt="slow"), tiny_job(prompt="other")
    ensure_group(redis.Redis.from_url(redis_server.url))
    await client.submit(slow, "user:1")
    await client.submit(other, "user:1")
    assert leaving.stdout.readline().strip() == "job slow"
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(60) == 0
    first = await client.wait(slow.id, timeout=5)
    assert first.ok and first.worker != ""
    taker = workers(service_settings(redis_server, claim_idle_s=30.0))
    second = await client.wait(other.id, timeout=60)  # handed back: no 30 s idle wait
    assert second.ok and second.worker == taker.name
    r = redis.Redis.from_url(redis_server.url)
    [entry] = r.xrange(keys.RESULTS)[-1:]
    assert entry[1][b"id"].decode() == other.id
