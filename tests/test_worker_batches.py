"""A worker reads the read jobs it holds on one (prompt, max tokens) together, in one pass."""

from __future__ import annotations

import asyncio

import pytest

from babel_core.address import parse_address
from babel_core.edition import TINY
from babel_core.jobs import REFUSED, Job
from tests.conftest import service_settings

ADDRESSES = [f"batch{n}-w{1 + n % 4}-s{1 + n % 5}-v{1 + n}" for n in range(8)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reference():
    from babel_core.read import Reader

    return Reader(TINY)


async def read_all(client, workers, redis_server, jobs: list[Job]):
    """Queue every job first, then start one worker: it takes them all in one batch."""
    for job in jobs:
        await client.submit(job, "user:1")
    workers(service_settings(redis_server, worker_batch=8))
    return await asyncio.gather(*(client.wait(job.id, timeout=60) for job in jobs))


async def test_read_jobs_on_one_prompt_are_read_together_and_equal_single_readings(
    client, workers, redis_server, reference
):
    prompts = ["Once upon a time"] * 5 + ["Translate to German: the house"] * 2 + ["Hello"]
    jobs = [Job.read(a, p, 12, "tiny") for a, p in zip(ADDRESSES, prompts, strict=True)]
    results = await read_all(client, workers, redis_server, jobs)
    for job, result in zip(jobs, results, strict=True):
        alone = reference.read(parse_address(job.address), job.prompt, 12)
        assert result.ok, result.error
        assert (result.text, result.token_ids, result.fingerprint, result.stopped_at_eos) == (
            alone.text,
            alone.token_ids,
            alone.fingerprint,
            alone.stopped_at_eos,
        )
    assert [r.timings["batch"] for r in results] == [5, 5, 5, 5, 5, 2, 2, 1]


async def test_a_refused_batch_answers_each_of_its_jobs_with_the_refusal(
    client, workers, redis_server
):
    too_long = "word " * 600  # fewer than 8 x 512 characters, more than 512 tokens
    jobs = [Job.read(a, too_long, 4, "tiny") for a in ADDRESSES[:3]]
    results = await read_all(client, workers, redis_server, jobs)
    assert [(r.ok, r.error_kind) for r in results] == [(False, REFUSED)] * 3
    assert len({r.error for r in results}) == 1 and "too long" in results[0].error


async def test_a_worker_of_batch_8_holds_one_hunt_job_and_hands_the_others_to_idle_workers(
    client, workers, redis_server
):
    import threading

    from babel_core.hunt import Hunt

    reading_one, release = threading.Event(), threading.Event()

    def hold_hunts(job: Job) -> None:
        if job.kind == "hunt":
            reading_one.set()
            release.wait(30)

    hunt = Hunt.new(64, "the hunt", 4, "tiny", seed=5)
    first, second = hunt.jobs()
    for job in (Job.read(ADDRESSES[0], "a reading", 4, "tiny"), first, second):
        await client.submit(job, "user:1")  # the reading first: the worker takes all three
    holder = workers(service_settings(redis_server, worker_batch=8), before_job=hold_hunts)
    assert await asyncio.to_thread(reading_one.wait, 30)
    helper = workers(service_settings(redis_server, worker_batch=8))
    try:
        handed = await client.wait(second.id, timeout=60)  # while the holder is held
    finally:
        release.set()
    held = await client.wait(first.id, timeout=60)
    assert (held.worker, handed.worker) == (holder.name, helper.name)
