"""Lanes on a real Redis: interactive work first, bulk work shared round-robin, and every
guarantee of the queue (one answer, reclaim, dead letters, cancel, positions, caps) in both."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import pytest
import redis

from babel_core import hunt as hunting
from babel_core import keys
from babel_core.client import NOT_YOURS, WITHDRAWN, LibraryBusy, LibraryClient
from babel_core.hunt import Hunt
from babel_core.jobs import CANCELLED, DEAD, HUNT, Job, Result
from babel_core.queue import Queue, ensure_group
from babel_core.settings import Settings
from tests.conftest import queued, service_settings

PROMPT = "Once upon a time"
TOKENS = 4

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_hunt(count: int, seed: int, prompt: str = PROMPT) -> Hunt:
    return Hunt.new(count, prompt, TOKENS, "tiny", seed=seed)


def tiny_job(address: str = "lane-w1-s1-v1", prompt: str = "a reading") -> Job:
    return Job.read(address, prompt, TOKENS, edition="tiny")


def stored(url: str, job: Job) -> Result | None:
    raw = redis.Redis.from_url(url).get(keys.result(job.id))
    return None if raw is None else Result.from_json(raw)


async def until(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


# -- interactive work first


async def test_a_reading_asked_during_a_hunt_is_read_within_the_hunt_job_in_hand(
    client, workers, redis_server
):
    asked, order = threading.Event(), []

    def hold(job: Job) -> None:
        order.append(job.kind)
        if job.kind == HUNT:
            asked.wait(30)  # the hunt job in hand starts once the reading is queued

    workers(service_settings(redis_server, worker_batch=8), before_job=hold)
    hunt = tiny_hunt(1024, seed=3)
    running = asyncio.create_task(hunting.run(client, hunt, "user:1", stall_s=60, server="s1"))
    await until(lambda: order)  # the worker holds the hunt's first job
    reading = tiny_job()
    await client.submit(reading, "user:2")
    asked.set()
    answer = await client.wait(reading.id, timeout=60)
    await until(lambda: stored(redis_server.url, hunt.job(0)) is not None)
    first = stored(redis_server.url, hunt.job(0))
    assert answer.ok and first.ok
    assert answer.finished_at < first.finished_at  # read while that hunt job was in hand
    assert first.timings["batch"] == 1  # then a bite at a time (8 // 8): people are reading
    assert order[:2] == [HUNT, "read"]
    await hunting.cancel(client, hunt.id, "user:1")
    outcome = await running
    assert outcome.volumes_read + 32 * outcome.cancelled == 1024


async def test_a_reading_asked_after_a_big_hunt_is_read_before_its_remaining_jobs(
    client, workers, redis_server
):
    order: list[str] = []
    workers(
        service_settings(redis_server, worker_batch=8), before_job=lambda j: order.append(j.kind)
    )
    hunt = tiny_hunt(1024, seed=4)
    running = asyncio.create_task(hunting.run(client, hunt, "user:1", stall_s=60, server="s1"))
    await until(lambda: order.count(HUNT) >= 2)  # the hunt is under way
    started = order.count(HUNT)
    reading = tiny_job("lane-w2-s2-v2")
    answer = await client.request(reading, "user:2", timeout=60)
    assert answer.ok
    before = order.index("read")  # hunt jobs started before the reading was read
    assert before <= started + 1 < hunt.chunks  # at most the one just starting as it was asked
    outcome = await running
    assert outcome.complete


async def test_positions_count_only_what_is_ahead_in_the_jobs_own_lane(client, redis_server):
    hunt = tiny_hunt(10 * 32, seed=5)
    for job in hunt.jobs():
        await client.submit(job, "user:1", server="s1")
    readings = [tiny_job(f"pos-w1-s1-v{v}") for v in (1, 2)]
    tickets = [await client.submit(job, "user:2") for job in readings]
    assert [t.position for t in tickets] == [1, 2]  # not behind the ten hunt jobs
    assert await client.position(hunt.job(3).id) == 4  # its requester's own line
    Queue(redis.Redis.from_url(redis_server.url), "w", 3600).take_bulk(1)
    assert [await client.position(hunt.job(c).id) for c in (0, 1, 3)] == [0, 1, 3]


# -- bulk work round-robin


async def queue_hunts(client, url: str, plans: list[tuple[Hunt, str, str]]) -> list[asyncio.Task]:
    """Run each hunt (hunt, requester, server), each wholly queued before the next starts."""
    tasks, total = [], 0
    for hunt, requester, server in plans:
        tasks.append(
            asyncio.create_task(hunting.run(client, hunt, requester, stall_s=60, server=server))
        )
        total += hunt.chunks
        await until(lambda total=total: queued(url) == total)
    return tasks


async def test_two_requesters_hunts_are_served_alternately(client, workers, redis_server):
    a, b = tiny_hunt(8 * 32, seed=1), tiny_hunt(8 * 32, seed=2)
    plans = [(a, "user:a", "s1"), (b, "user:b", "s1")]
    tasks = await queue_hunts(client, redis_server.url, plans)
    order: list[int] = []
    workers(
        service_settings(redis_server, worker_batch=8), before_job=lambda j: order.append(j.seed)
    )
    outcomes = await asyncio.gather(*tasks)
    assert [o.complete for o in outcomes] == [True, True]
    assert order == [1, 2] * 8  # the big hunt queued first does not go first
    for n in range(1, len(order) + 1):  # progress within one job (32 volumes) of each other
        assert abs(order[:n].count(1) - order[:n].count(2)) <= 1


async def test_servers_take_turns_then_their_requesters(client, workers, redis_server):
    a, b, c = (tiny_hunt(4 * 32, seed=s) for s in (1, 2, 3))
    plans = [(a, "user:a", "s1"), (b, "user:b", "s1"), (c, "user:c", "s2")]
    tasks = await queue_hunts(client, redis_server.url, plans)
    order: list[int] = []
    workers(
        service_settings(redis_server, worker_batch=8), before_job=lambda j: order.append(j.seed)
    )
    await asyncio.gather(*tasks)
    assert order[:8] == [1, 3, 2, 3, 1, 3, 2, 3]  # s2's one hunter gets half, as all of s1


async def test_a_requesters_bulk_share_and_each_lanes_cap(redis_server):
    r = redis.asyncio.Redis.from_url(redis_server.url)
    settings = service_settings(redis_server, queue_cap=3, bulk_cap_per_requester=2)
    client = LibraryClient(r, settings)
    try:
        jobs = tiny_hunt(3 * 32, seed=6).jobs()
        for job in jobs[:2]:
            await client.submit(job, "user:a", server="s1")
        with pytest.raises(LibraryBusy) as full:
            await client.submit(jobs[2], "user:a", server="s1")
        assert str(full.value) == (
            "you have 2 parts of hunts waiting already, the most at once; please wait for them "
            "to be read"
        )
        await client.submit(jobs[2], "user:a", server="s2")  # a share in each server
        other = tiny_hunt(32, seed=7).job(0)
        with pytest.raises(LibraryBusy, match=r"the library is busy \(3 requests are waiting\)"):
            await client.submit(other, "user:b", server="s1")  # the bulk lane is full
        for v in (1, 2, 3):  # the interactive lane has its own cap
            await client.submit(tiny_job(f"cap-w1-s1-v{v}"), "user:b")
        with pytest.raises(LibraryBusy):
            await client.submit(tiny_job("cap-w1-s1-v4"), "user:b")
    finally:
        await client.close()
        await r.aclose()


# -- the queue's guarantees in the bulk lane


async def test_a_joined_bulk_job_is_withdrawn_by_each_of_its_requesters(client, redis_server):
    job = tiny_hunt(32, seed=8).job(0)
    await client.submit(job, "user:a", server="s1")
    joined = await client.submit(job, "user:b", server="s2")  # the same job: no second entry
    assert joined.shared and queued(redis_server.url) == 1
    assert await client.withdraw(job.id, "user:c") == NOT_YOURS
    assert await client.withdraw(job.id, "user:b") == WITHDRAWN  # found in user:a's stream
    assert queued(redis_server.url) == 1  # user:a still waits for it
    assert await client.withdraw(job.id, "user:a") == WITHDRAWN
    result = await client.wait(job.id, timeout=5)
    assert (result.ok, result.error_kind, queued(redis_server.url)) == (False, CANCELLED, 0)


async def test_a_killed_workers_bulk_and_interactive_jobs_are_both_reclaimed(
    client, workers, worker_process, redis_server, caplog
):
    hunt = tiny_hunt(32, seed=9, prompt="hold")
    await client.submit(hunt.job(0), "user:1", server="s1")
    doomed = worker_process("--sleep-on", "hold", "2", "--sleep-on", "slow", "60")
    assert doomed.stdout.readline().strip() == "job hold"  # the hunt job is in its hands
    reading = tiny_job(prompt="slow")
    await client.submit(reading, "user:2")  # read before a batch of the hunt job
    assert doomed.stdout.readline().strip() == "job slow"  # now it holds both
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    caplog.set_level(logging.INFO, logger="babel_core.worker")
    survivor = workers()
    answers = [await client.wait(j.id, timeout=60) for j in (hunt.job(0), reading)]
    assert [(a.ok, a.worker) for a in answers] == [(True, survivor.name)] * 2
    r = redis.Redis.from_url(redis_server.url)
    notices = sorted(f[b"id"].decode() for _, f in r.xrange(keys.RESULTS))
    assert notices == sorted([hunt.job(0).id, reading.id])  # one answer each
    assert sorted(m for m in caplog.messages if "took over" in m) == sorted(
        f"worker {survivor.name} took over job {j.id} from a silent worker (attempt 2)"
        for j in (hunt.job(0), reading)
    )
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 0 and r.exists(keys.ATTEMPTS) == 0


async def test_a_poison_entry_in_the_bulk_lane_is_dead_lettered_and_nothing_is_left(
    client, workers, redis_server
):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    good = tiny_hunt(32, seed=10).job(0)
    await client.submit(good, "user:1", server="s1")
    r.xadd(keys.bulk("s1", "user:1"), {"id": "f" * 32, "job": "{oops", "at": "1"})
    workers()
    assert (await client.wait(good.id, timeout=60)).ok
    await until(lambda: r.xlen(keys.DEAD) == 1)
    [(_, record)] = r.xrange(keys.DEAD)
    assert (record[b"deliveries"], record[b"why"][:19]) == (b"4", b"the job is not JSON")
    bulk_keys = [keys.BULK_STREAMS, keys.BULK_ADDED, keys.BULK_SERVERS, keys.bulk_ring("s1")]
    await until(lambda: r.exists(*bulk_keys) == 0)  # an emptied stream is forgotten
    assert r.keys(keys.PREFIX + "bulk:*") == [] and r.exists(keys.ATTEMPTS) == 0
    result = Result.from_json(r.get(keys.result(good.id)))
    assert result.error_kind != DEAD


async def test_acknowledged_bulk_jobs_survive_a_sigkilled_redis_with_their_turns(tmp_path):
    from tests.catalogue_support import RedisProcess
    from tests.test_job_durability import valkey

    server = RedisProcess(tmp_path, valkey(), appendfsync="everysec").start()
    try:
        r = server.client()
        client = LibraryClient(r, Settings(queue_cap=0))
        a, b = tiny_hunt(3 * 32, seed=11), tiny_hunt(3 * 32, seed=12)
        for hunt, who, where in ((a, "user:a", "s1"), (b, "user:b", "s2")):
            for job in hunt.jobs():  # each returns once WAITAOF says it is on disk
                await client.submit(job, who, server=where)
        await client.close()
        await r.aclose()
        server.kill()  # no shutdown, no last fsync
        server.start()
        queue = Queue(redis.Redis(unix_socket_path=server.socket), "w", 3600)
        taken = [queue.take_bulk(1) for _ in range(7)]
        assert [(d.job.seed, d.job.chunk) for [d] in taken[:6]] == [
            (11, 0),
            (12, 0),
            (11, 1),
            (12, 1),
            (11, 2),
            (12, 2),
        ]
        assert taken[6] == [] and queue.depth() == 6  # taken, each still pending until answered
    finally:
        server.kill()
