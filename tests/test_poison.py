"""Drills: entries no worker can read or process, and a worker killed mid-batch.

Every drill runs on a real Redis (the test's own redis-server process). A poison entry is
written straight into the jobs stream, as a buggy or hostile writer would, next to good jobs
in the same batch: the good jobs are answered, the poison entry is dead-lettered after
max_deliveries attempts (on its 4th take, as a job that kills its workers), with one error
answer when it has an id to answer, counted in the metrics, and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import redis
from prometheus_client import REGISTRY

from babel_core import keys
from babel_core.jobs import DEAD, Job
from babel_core.queue import ensure_group
from babel_core.worker import Worker
from tests.conftest import service_settings

PROMPT = "poison drill"
GOOD = [f"good-w1-s1-v{v}" for v in range(1, 7)]


def job_json(**changes) -> str:
    fields = json.loads(Job.read("babel-w3-s2-v17", PROMPT, 4, edition="tiny").to_json())
    fields.update(changes)
    return json.dumps(fields)


REAL_ID = Job.read("babel-w3-s2-v17", PROMPT, 4, edition="tiny").id
ANOTHER_ID = Job.read("babel-w3-s2-v18", PROMPT, 4, edition="tiny").id
# (name, stream fields, id a requester waits on or None): what the drills found, and more
POISON = [
    ("edition as a list", {"id": REAL_ID, "job": job_json(edition=["tiny/v1"])}, REAL_ID),
    ("prompt as a list", {"id": REAL_ID, "job": job_json(prompt=["a", "b"])}, REAL_ID),
    ("at is yesterday", {"id": REAL_ID, "job": job_json(), "at": "yesterday"}, REAL_ID),
    ("at is nan", {"id": REAL_ID, "job": job_json(), "at": "nan"}, REAL_ID),
    ("id not UTF-8", {"id": b"\xff\xfe" + b"0" * 30, "job": job_json()}, None),
    ("job not UTF-8", {"id": REAL_ID, "job": b"\xff{"}, REAL_ID),
    ("job not JSON", {"id": REAL_ID, "job": "{oops"}, REAL_ID),
    ("job a list", {"id": REAL_ID, "job": "[1, 2]"}, REAL_ID),
    ("no job field", {"id": REAL_ID}, REAL_ID),
    ("no id field", {"job": job_json()}, None),
    ("max tokens a string", {"id": REAL_ID, "job": job_json(max_tokens="4")}, REAL_ID),
    ("max tokens true", {"id": REAL_ID, "job": job_json(max_tokens=True)}, REAL_ID),
    ("unknown edition", {"id": REAL_ID, "job": job_json(edition="huge/v9")}, REAL_ID),
    ("address not canonical", {"id": REAL_ID, "job": job_json(address="BABEL:3:2:17")}, REAL_ID),
    ("address nonsense", {"id": REAL_ID, "job": job_json(address="w9-s9")}, REAL_ID),
    ("unknown field", {"id": REAL_ID, "job": job_json(colour="red")}, REAL_ID),
    ("id of another job", {"id": ANOTHER_ID, "job": job_json()}, ANOTHER_ID),
    ("prompt a lone surrogate", {"id": REAL_ID, "job": job_json(prompt="\ud800")}, REAL_ID),
    ("ordinal not a number", {"id": REAL_ID, "job": job_json(), "n": "x"}, REAL_ID),
]


def dead_letters(why: str) -> float:
    return REGISTRY.get_sample_value("babel_dead_letters_total", {"why": why}) or 0.0


def plant(r: redis.Redis, fields: dict, answer_to: str | None) -> str:
    """XADD a raw entry; when it has an id to answer, someone waits for it (as ENQUEUE does)."""
    entry = r.xadd(keys.JOBS, {"at": "1750000000.5", **fields})
    if answer_to is not None:
        r.set(keys.inflight(answer_to), entry)
        r.sadd(keys.waiters(answer_to), "user:9")
    return entry.decode()


async def test_every_poison_entry_is_dead_lettered_and_its_batches_are_answered(
    client, workers, redis_server
):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    good = [Job.read(a, PROMPT, 4, edition="tiny") for a in GOOD]
    for i, (_, fields, answer_to) in enumerate(POISON):  # poison and good jobs interleaved
        plant(r, fields, answer_to if i == 0 else None)  # the first with a waiting requester
        if i < len(good):
            await client.submit(good[i], "user:1")
    before = dead_letters("unreadable")
    workers(service_settings(redis_server, worker_batch=8))
    answers = await asyncio.gather(*(client.wait(j.id, timeout=60) for j in good))
    assert [a.ok for a in answers] == [True] * len(good)
    while r.xlen(keys.JOBS):  # the poison goes round 4 times: milliseconds each
        await asyncio.sleep(0.05)
    dead = [f for _, f in r.xrange(keys.DEAD)]
    assert len(dead) == len(POISON) and {f[b"deliveries"] for f in dead} == {b"4"}
    assert all(f[b"why"] for f in dead)
    assert dead_letters("unreadable") - before == len(POISON)
    assert r.exists(keys.ATTEMPTS) == 0  # nothing left behind
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 0
    result = await client.wait(REAL_ID, timeout=5)  # its requester hears one error
    assert (result.ok, result.error_kind) == (False, DEAD)
    assert result.error.startswith("this request could not be read (the job's edition is a list")


async def test_a_job_that_fails_outside_its_reading_is_dead_lettered_and_its_batch_answered(
    client, workers, redis_server
):
    settings = service_settings(redis_server, worker_batch=8)
    worker = Worker(settings, redis_server.url)
    read_batch = worker.desk.read_batch

    def failing(edition_id, group):  # a bug that trips on one job before any reading
        if any(d.job.prompt == "trips the worker" for d in group):
            raise TypeError("unhashable type: 'list'")
        yield from read_batch(edition_id, group)

    worker.desk.read_batch = failing
    poison = Job.read("babel-w3-s2-v17", "trips the worker", 4, edition="tiny")
    good = [Job.read(a, PROMPT, 4, edition="tiny") for a in GOOD]
    for job in [*good[:3], poison, *good[3:]]:
        await client.submit(job, "user:1")
    before = dead_letters("failed")
    workers.started.append((worker, worker.start_thread()))
    answers = await asyncio.gather(*(client.wait(j.id, timeout=60) for j in good))
    assert [a.ok for a in answers] == [True] * len(good)
    result = await client.wait(poison.id, timeout=60)
    assert (result.ok, result.error_kind) == (False, DEAD)
    assert result.error.startswith("no worker could read this volume: it failed 3 times (TypeError")
    r = redis.Redis.from_url(redis_server.url)
    [(_, record)] = r.xrange(keys.DEAD)
    assert (record[b"deliveries"], record[b"requesters"]) == (b"4", b"user:1")
    assert dead_letters("failed") - before == 1
    assert r.xlen(keys.JOBS) == 0 and r.exists(keys.ATTEMPTS) == 0


async def test_a_worker_killed_mid_batch_loses_nothing_and_answers_each_job_once(
    client, workers, worker_process, redis_server, caplog
):
    ensure_group(redis.Redis.from_url(redis_server.url))
    slow = Job.read("aaa-w1-s1-v1", "slow", 4, edition="tiny")  # first by address: read first
    rest = [Job.read(a, PROMPT, 4, edition="tiny") for a in GOOD[:5]]
    for job in [slow, *rest]:
        await client.submit(job, "user:1")
    doomed = worker_process("--sleep-on", "slow", "60", BABEL_WORKER_BATCH="8")
    assert doomed.stdout.readline().strip() == "job slow"  # the whole batch is in its hands
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    caplog.set_level(logging.INFO, logger="babel_core.worker")
    survivor = workers()
    answers = await asyncio.gather(*(client.wait(j.id, timeout=60) for j in [slow, *rest]))
    assert [(a.ok, a.worker) for a in answers] == [(True, survivor.name)] * 6
    r = redis.Redis.from_url(redis_server.url)
    notices = [f[b"id"].decode() for _, f in r.xrange(keys.RESULTS)]
    assert sorted(notices) == sorted(j.id for j in [slow, *rest])  # one answer each
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 0 and r.exists(keys.ATTEMPTS) == 0
    took = [m for m in caplog.messages if "took over" in m]
    assert sorted(took) == sorted(
        f"worker {survivor.name} took over job {j.id} from a silent worker (attempt 2)"
        for j in [slow, *rest]
    )


async def test_a_stray_entry_with_a_queued_jobs_id_does_not_answer_that_job(
    client, workers, redis_server
):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    r.xadd(keys.JOBS, {"id": REAL_ID, "job": "{oops", "at": "1"})  # before the real one
    job = Job.read("babel-w3-s2-v17", PROMPT, 4, edition="tiny")
    await client.submit(job, "user:1")
    workers()
    result = await client.wait(job.id, timeout=60)
    assert result.ok  # its own reading, not the stray entry's dead-letter error
    while r.xlen(keys.JOBS):
        await asyncio.sleep(0.05)
    [(_, record)] = r.xrange(keys.DEAD)
    assert record[b"why"].startswith(b"the job is not JSON")
