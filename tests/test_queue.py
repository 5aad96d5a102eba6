"""The queue on a real Redis: round trip, dedupe, one reply per job, positions, cancel, outages."""

from __future__ import annotations

import asyncio

import psutil
import pytest
import redis

from babel_core import keys
from babel_core.address import parse_address
from babel_core.client import QueueUnreachable
from babel_core.edition import TINY
from babel_core.jobs import CANCELLED, READING, Job, JobError, Result
from babel_core.queue import Queue, ensure_group

PROMPT = "the queue"


def tiny_job(address: str = "babel-w3-s2-v17", prompt: str = PROMPT, tokens: int = 8) -> Job:
    return Job.read(address, prompt, tokens, edition="tiny")


def notices_for(r: redis.Redis, job_id: str) -> int:
    return sum(f[b"id"].decode() == job_id for _, f in r.xrange(keys.RESULTS))


def test_job_id_depends_on_what_decides_the_reading_only():
    job = tiny_job()
    assert job.id == tiny_job().id
    assert job.id == Job.from_json(job.to_json()).id
    assert job.id == Job.read("BABEL:3:2:17", PROMPT, 8, edition="tiny").id  # canonical address
    assert len({job.id, tiny_job(prompt="other").id, tiny_job(tokens=9).id}) == 3
    assert job.id != Job.read("babel-w3-s2-v17", PROMPT, 8, edition="t5-small").id
    drawn = Job.random(PROMPT, 8, edition="tiny")
    assert drawn.id == Job.read(drawn.address, PROMPT, 8, edition="tiny").id


def test_job_ids_are_pinned_and_a_fresh_reread_has_its_own():
    job = tiny_job()
    assert job.id == "83b3bd5cfaa98a1556da5d0475591e3a"  # stored readings stay findable
    again = job.reread()
    assert (again.fresh, again.kind, again.address, again.prompt) == (
        True,
        "read",
        job.address,
        job.prompt,
    )
    assert again.id == "ade0e2c2a1bc3a8648989d9dc35182c0" != job.id
    assert Job.from_json(again.to_json()) == again
    with pytest.raises(JobError, match="only a reading can be read again"):
        Job.hunt(1, 0, 4, edition="tiny").reread()


def test_result_survives_json():
    result = Result(tiny_job().id, tiny_job(), True, "text", [5, 6], "abc", True, timings={"a": 1})
    assert Result.from_json(result.to_json()) == result


async def test_round_trip_gives_the_reading_a_reader_gives(client, workers, redis_server):
    from babel_core.read import Reader

    worker = workers()
    job = tiny_job()
    result = await client.request(job, "user:1", timeout=60)
    direct = Reader(TINY).read(parse_address(job.address), PROMPT, 8)
    assert result.ok, result.error
    assert (result.token_ids, result.text) == (direct.token_ids, direct.text)
    assert result.fingerprint == direct.fingerprint
    assert result.worker == worker.name
    r = redis.Redis.from_url(redis_server.url)
    assert r.xlen(keys.JOBS) == 0  # answered entries leave the stream
    assert r.exists(keys.inflight(job.id), keys.waiters(job.id)) == 0
    assert notices_for(r, job.id) == 1


async def test_only_cache_keys_have_a_ttl(client, workers, redis_server):
    r = redis.Redis.from_url(redis_server.url)
    job = tiny_job()
    await client.submit(job, "user:1")
    assert r.ttl(keys.inflight(job.id)) == -1  # queue keys never expire
    assert r.ttl(keys.waiters(job.id)) == -1
    assert r.ttl(keys.JOBS) == -1
    workers()
    await client.wait(job.id, timeout=60)
    reading_ttl = client.settings.reading_ttl_s
    assert reading_ttl - 60 < r.ttl(keys.result(job.id)) <= reading_ttl
    assert r.ttl(keys.RESULTS) == -1


async def test_identical_jobs_in_flight_share_one_computation(client, workers, redis_server):
    job = tiny_job()
    first = await client.submit(job, "user:1")
    second = await client.submit(tiny_job(), "user:2")
    r = redis.Redis.from_url(redis_server.url)
    assert (first.shared, second.shared) == (False, True)
    assert r.xlen(keys.JOBS) == 1
    assert r.smembers(keys.waiters(job.id)) == {b"user:1", b"user:2"}
    reads = []
    workers(before_job=reads.append)
    a, b = await asyncio.gather(client.wait(job.id, 60), client.wait(job.id, 60))
    assert a == b and a.ok
    assert notices_for(r, job.id) == 1
    assert reads == [job]  # one computation


def test_duplicate_deliveries_produce_one_reply(redis_server):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    job = tiny_job()
    first, second = Queue(r, "first", 3600), Queue(r, "second", 3600)
    first.enqueue(job, "user:1")
    [mine] = first.start(first.read_new(1, 100))
    [again] = second.start(second.reclaim(0, 1))  # the first worker looked dead: taken twice
    assert (mine.entry, mine.deliveries, again.deliveries) == (again.entry, 1, 2)
    answer = Result(job.id, job, True, "one", [1], "f1")
    late = Result(job.id, job, True, "two", [1], "f2")
    assert second.finish(again, answer) is True
    assert first.finish(mine, late) is False
    assert Result.from_json(r.get(keys.result(job.id))) == answer
    assert notices_for(r, job.id) == 1
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 0


async def test_positions_count_the_jobs_ahead(client, redis_server):
    jobs = [tiny_job(f"babel-w1-s1-v{v}") for v in (1, 2, 3)]
    tickets = [await client.submit(job, "user:1") for job in jobs]
    assert [t.position for t in tickets] == [1, 2, 3]
    [taken] = Queue(redis.Redis.from_url(redis_server.url), "w", 3600).read_new(1, 100)
    assert taken.job == jobs[0]
    assert [await client.position(job.id) for job in jobs] == [0, 1, 2]
    assert await client.position(tiny_job("babel-w4-s4-v4").id) == -1


async def test_cancel_withdraws_only_the_requesters_own_waiting_job(client, redis_server):
    job, shared = tiny_job("babel-w1-s1-v1"), tiny_job("babel-w1-s1-v2")
    await client.submit(job, "user:1")
    await client.submit(shared, "user:1")
    await client.submit(shared, "user:2")
    assert await client.cancel(job.id, "user:2") is False  # not theirs
    assert await client.cancel(job.id, "user:1") is True
    result = await client.wait(job.id, timeout=5)
    assert (result.ok, result.error_kind) == (False, CANCELLED)
    assert await client.position(job.id) == -1
    assert await client.cancel(shared.id, "user:1") is True  # user:2 still waits for it
    assert await client.position(shared.id) == 1
    r = redis.Redis.from_url(redis_server.url)
    assert r.smembers(keys.waiters(shared.id)) == {b"user:2"}
    Queue(r, "w", 3600).read_new(1, 100)  # a worker takes it: too late to cancel
    assert await client.cancel(shared.id, "user:2") is False


async def test_a_cancelled_job_asked_again_is_queued_afresh(client):
    job = tiny_job()
    await client.submit(job, "user:1")
    await client.cancel(job.id, "user:1")
    again = await client.submit(job, "user:1")
    assert (again.cached, again.position) == (None, 1)


async def test_redis_down_is_one_plain_error(client, redis_server):
    redis_server.stop()
    with pytest.raises(QueueUnreachable) as caught:
        await client.submit(tiny_job(), "user:1")
    assert str(caught.value) == (
        "the library's queue is unreachable right now; try again in a minute"
    )


async def test_a_stored_reading_is_served_with_the_requesters_job(client, workers):
    workers()
    drawn = Job.random(PROMPT, 8, edition="tiny")
    first = await client.request(
        Job.read(drawn.address, PROMPT, 8, edition="tiny"), "u", timeout=60
    )
    again = await client.request(drawn, "u")
    assert again.cache == READING and again.job == drawn
    assert again.token_ids == first.token_ids


def test_the_embedded_redis_keeps_its_data_and_stops_with_its_last_client(tmp_path):
    from babel_core.redis_conn import connect
    from babel_core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    with connect(settings) as target:
        pid = target.embedded.pid
        target.sync().set("babel:test", "kept")
        assert target.sync().config_get("appendonly") == {"appendonly": "yes"}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (tmp_path / "data" / "appendonly.aof").exists()
    with connect(settings) as target:  # a new server on the same folder
        assert target.sync().get("babel:test") == b"kept"
