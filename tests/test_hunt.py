"""Hunts: jobs drawn from (seed, chunk), read by workers through a real Redis, merged, cancelled."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time

import pytest
import redis

from babel_core import hunt as hunting
from babel_core import keys
from babel_core.address import NEAR_WING_HEXAGON_CHARS, parse_address
from babel_core.edition import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, TINY
from babel_core.fastread import FastReader
from babel_core.hunt import Hunt, HuntError
from babel_core.jobs import HUNT_CHUNK, Candidate, Job, JobError, Result
from babel_core.scorers import UnknownScorer
from babel_core.settings import Settings
from tests.conftest import service_settings

PROMPT = "Once upon a time"
TOKENS = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reference():
    from babel_core.read import Reader

    return Reader(TINY)


def tiny_hunt(count: int, seed: int = 42, score: str = "default", top: int = 5) -> Hunt:
    return Hunt.new(count, PROMPT, TOKENS, "tiny", score, top, seed)


def read_alone(hunt: Hunt, reference) -> list:
    """What a hunt must answer: each of its volumes read alone by the reference reader
    (transformers' generate), scored, and ranked."""
    addresses = hunt.addresses()
    readings = [reference.read(a, hunt.prompt, hunt.max_tokens) for a in addresses]
    return hunting.score_readings(addresses, readings, hunt.score, hunt.prompt, hunt.top)


def answers(url: str, hunt: Hunt) -> list[Result]:
    r = redis.Redis.from_url(url)
    return [Result.from_json(r.get(keys.result(job.id))) for job in hunt.jobs()]


# -- jobs, ids and volumes


def test_a_hunt_is_split_into_jobs_of_32_volumes_named_by_what_decides_them():
    hunt = tiny_hunt(100)
    jobs = hunt.jobs()
    assert HUNT_CHUNK == 32
    assert [(j.chunk, j.volumes) for j in jobs] == [(0, 32), (1, 32), (2, 32), (3, 4)]
    assert len({j.id for j in jobs}) == 4
    assert [j.id for j in tiny_hunt(100).jobs()] == [j.id for j in jobs]
    assert [Job.from_json(j.to_json()).id for j in jobs] == [j.id for j in jobs]
    others = tiny_hunt(100, seed=43).jobs() + tiny_hunt(100, score="words").jobs()
    others += tiny_hunt(100, top=4).jobs()
    assert not {j.id for j in others} & {j.id for j in jobs}
    assert (tiny_hunt(100).id, len({tiny_hunt(100).id, tiny_hunt(100, seed=43).id})) == (
        hunt.id,
        2,
    )


def test_a_jobs_volumes_depend_only_on_seed_chunk_and_position():
    digest = hashlib.blake2b(b"42:1:0", digest_size=32, person=b"babel-hunt").digest()
    expected = int.from_bytes(digest, "little") % (700 * 36**NEAR_WING_HEXAGON_CHARS)
    assert hunting.volume_address(42, 1, 0).index == expected
    assert hunting.chunk_addresses(42, 1, 4) == hunting.chunk_addresses(42, 1, 32)[:4]
    addresses = tiny_hunt(100).addresses()
    assert addresses[32:64] == hunting.chunk_addresses(42, 1, 32)
    assert len(set(addresses)) == 100
    assert max(len(a.hexagon_name) for a in addresses) <= NEAR_WING_HEXAGON_CHARS


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Job.hunt(1, 0, 33, edition="tiny"), JobError, "1 to 32 volumes, not 33"),
        (lambda: Job.hunt(1, 0, 8, edition="tiny", top=11), JobError, "1 to 10 results"),
        (lambda: Job.hunt(-1, 0, 8, edition="tiny"), JobError, "seed is a whole number from 0 to"),
        (lambda: Job.hunt(1, 0, 8, edition="tiny", score="vibes"), UnknownScorer, "no scorer"),
        (lambda: tiny_hunt(0), HuntError, "at least one volume, not 0"),
    ],
)
def test_hunt_jobs_are_checked_when_made(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_a_hunt_job_read_twice_gives_the_same_answer():
    job = tiny_hunt(40).job(1)
    first = hunting.read_job(FastReader(TINY, batch=8), job)
    again = hunting.read_job(FastReader(TINY, batch=3), job)
    assert (len(first), first) == (5, again)
    assert [c.score for c in first] == sorted((c.score for c in first), reverse=True)


# -- through Redis


async def test_a_hunt_with_one_worker_finds_what_reading_its_volumes_alone_finds(
    client, workers, redis_server, reference
):
    worker = workers()
    hunt = tiny_hunt(70)
    seen = []
    outcome = await hunting.run(client, hunt, "user:1", seen.append)
    assert outcome.best == read_alone(hunt, reference)
    assert (outcome.volumes_read, outcome.cancelled, outcome.errors) == (70, 0, ())
    done = [p.volumes_done for p in seen]
    assert (done[0], done[-1], done == sorted(done)) == (0, 70, True)
    assert {p.volumes for p in seen} == {70}
    assert {a.worker for a in answers(redis_server.url, hunt)} == {worker.name}
    assert redis.Redis.from_url(redis_server.url).xlen(keys.JOBS) == 0


async def test_two_workers_share_a_hunt_and_merge_the_same_best(client, workers, redis_server):
    pair = threading.Barrier(2)

    def meet(job: Job) -> None:
        pair.wait(30)  # a worker starts a job only when the other starts one too

    settings = service_settings(redis_server)
    a, b = workers(settings, before_job=meet), workers(settings, before_job=meet)
    hunt = tiny_hunt(4 * HUNT_CHUNK, seed=7)
    outcome = await hunting.run(client, hunt, "user:1")
    local = hunting.hunt_here(hunt, FastReader(TINY, batch=8))
    assert (outcome.best, outcome.volumes_read) == (local.best, 128)
    by = [r.worker for r in answers(redis_server.url, hunt)]
    assert sorted(by) == sorted([a.name, a.name, b.name, b.name])


async def test_a_worker_with_a_batch_of_64_reads_two_hunt_jobs_together(
    client, workers, redis_server
):
    hunt = tiny_hunt(4 * HUNT_CHUNK, seed=11)
    running = asyncio.create_task(hunting.run(client, hunt, "user:1"))
    r = redis.Redis.from_url(redis_server.url)
    while r.xlen(keys.JOBS) < 4:  # every job queued before the worker starts
        await asyncio.sleep(0.01)
    workers(service_settings(redis_server, worker_batch=2 * HUNT_CHUNK))
    outcome = await running
    local = hunting.hunt_here(hunt, FastReader(TINY, batch=8))
    assert (outcome.best, outcome.volumes_read) == (local.best, 128)
    assert [a.timings["batch"] for a in answers(redis_server.url, hunt)] == [64, 64, 64, 64]
    assert [a.candidates for a in answers(redis_server.url, hunt)] == [
        hunting.read_job(FastReader(TINY, batch=8), job) for job in hunt.jobs()
    ]


async def test_a_hunt_job_answered_twice_is_the_same(client, workers, redis_server):
    workers()
    job = tiny_hunt(40).job(0)
    first = await client.request(job, "user:1", timeout=60)
    r = redis.Redis.from_url(redis_server.url)
    r.delete(keys.result(job.id))  # as if its answer expired: a worker reads it again
    again = await client.request(job, "user:2", timeout=60)
    assert first.ok and again.ok and again.finished_at > first.finished_at
    assert (len(again.candidates), again.candidates) == (5, first.candidates)


async def test_a_hunts_finds_are_stored_as_readings(client, workers, reference):
    workers()
    hunt = tiny_hunt(20, top=3)
    outcome = await hunting.run(client, hunt, "user:1")
    for find in outcome.best:
        ticket = await client.submit(Job.read(find.address, PROMPT, TOKENS, "tiny"), "user:2")
        direct = reference.read(parse_address(find.address), PROMPT, TOKENS)
        assert ticket.cached is not None
        assert (ticket.cached.token_ids, ticket.cached.fingerprint) == (
            direct.token_ids,
            direct.fingerprint,
        )


async def test_the_starter_cancels_the_rest_of_a_hunt_and_nobody_else_can(
    client, workers, redis_server
):
    started, release = threading.Event(), threading.Event()

    def hold(job: Job) -> None:
        started.set()
        release.wait(30)

    workers(before_job=hold)
    hunt = tiny_hunt(4 * HUNT_CHUNK, seed=11)
    submitted = asyncio.Event()
    running = asyncio.create_task(hunting.run(client, hunt, "starter", lambda p: submitted.set()))
    await submitted.wait()
    assert await asyncio.to_thread(started.wait, 30)
    with pytest.raises(HuntError, match="only the person who started this hunt"):
        await hunting.cancel(client, hunt.id, "someone-else")
    r = redis.Redis.from_url(redis_server.url)
    assert r.xlen(keys.JOBS) == 4  # someone else's cancel withdrew nothing
    assert await hunting.cancel(client, hunt.id, "starter") == 3  # the worker holds the first
    release.set()
    outcome = await running
    expected = hunting.read_job(FastReader(TINY, batch=8), hunt.job(0))
    assert (outcome.volumes_read, outcome.cancelled, outcome.best) == (32, 3, expected)
    assert r.xlen(keys.JOBS) == 0


async def test_a_hunt_nobody_reads_stops_waiting_and_withdraws_its_jobs(client, redis_server):
    outcome = await hunting.run(client, tiny_hunt(70), "user:1", stall_s=0.5)
    assert (outcome.stalled, outcome.volumes_read, outcome.best) == (True, 0, [])
    assert outcome.cancelled == 3
    assert redis.Redis.from_url(redis_server.url).xlen(keys.JOBS) == 0


# -- how much a person may hunt


@pytest.mark.parametrize(
    "gpu, moderator, expected",
    [(True, False, (256, 1024)), (True, True, (256, 8192)), (False, False, (32, 128))]
    + [(False, True, (32, 1024))],
)
def test_hunt_defaults_and_caps_by_role_and_device(gpu, moderator, expected):
    limits = hunting.limits(Settings(), gpu=gpu, moderator=moderator)
    assert (limits.default, limits.cap, limits.gpu) == (*expected, gpu)


def test_a_default_above_the_cap_is_the_cap():
    settings = Settings(hunt_default=5000, hunt_cap=1000)
    assert hunting.limits(settings, gpu=True, moderator=False).default == 1000


def test_hunt_settings_come_from_the_environment():
    env = {"BABEL_HUNT_DEFAULT": "64", "BABEL_HUNT_CAP": "512", "BABEL_HUNT_CAP_MODERATOR": "4096"}
    settings = Settings.from_env(env)
    assert (settings.hunt_default, settings.hunt_cap, settings.hunt_cap_moderator) == (
        64,
        512,
        4096,
    )


async def test_gpu_workers_are_known_by_their_heartbeats(client, workers, redis_server):
    assert await hunting.gpu_workers(client) is False  # no worker at all
    worker = workers()
    r = redis.Redis.from_url(redis_server.url)
    while not r.exists(keys.worker(worker.name)):
        await asyncio.sleep(0.05)
    assert await hunting.gpu_workers(client) is False  # a CPU worker
    r.zadd(keys.WORKERS, {"gpu-1": time.time()})  # what a cuda worker's heartbeat writes
    r.hset(keys.worker("gpu-1"), mapping={"device": "cuda", "beat": time.time()})
    assert await hunting.gpu_workers(client) is True


# -- shelf hunt (the CLI, in one process)


def test_shelf_hunt_json_lists_what_reading_its_volumes_alone_finds(capsys, reference):
    from bot.cli import main

    code = main(["hunt", "16", "--edition", "tiny", "--json"])
    out = json.loads(capsys.readouterr().out)
    hunt = Hunt.new(16, DEFAULT_PROMPT, DEFAULT_MAX_TOKENS, "tiny", "default", 5, out["seed"])
    assert code == 0
    assert (out["edition"], out["count"], out["score"], out["prompt"]) == (
        "tiny/v1",
        16,
        "default",
        DEFAULT_PROMPT,
    )
    assert [Candidate(**c) for c in out["best"]] == read_alone(hunt, reference)


def test_shelf_hunt_prints_a_table_of_the_best(capsys):
    from bot.cli import main

    argv = ["hunt", "8", PROMPT, "--edition", "tiny", "--top", "2", "--seed", "3", "--score"]
    code = main([*argv, "words", "--max-tokens", str(TOKENS)])
    lines = capsys.readouterr().out.splitlines()
    best = hunting.hunt_here(tiny_hunt(8, seed=3, score="words", top=2), FastReader(TINY)).best
    assert code == 0
    assert lines[1] == f"prompt: {PROMPT} · score: words · seed 3"
    assert [line.split()[:3] for line in lines[3:5]] == [
        [str(n), f"{c.score:.3f}", c.address] for n, c in enumerate(best, 1)
    ]


def test_shelf_hunt_takes_a_prompt_without_a_count_or_quotes_and_refuses_a_bad_count(capsys):
    from bot.cli import main

    argv = ["hunt", *PROMPT.split(), "--edition", "tiny", "--json", "--max-tokens", "2"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["prompt"] == PROMPT
    assert main(["hunt", "-3", PROMPT, "--edition", "tiny"]) == 2
    assert "a hunt reads 1 to 1,000,000 volumes, not '-3'" in capsys.readouterr().err
