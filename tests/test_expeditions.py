"""Expeditions: idle workers hunt on their own; bots forward the finds to the review channel."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
import redis.asyncio
import torch

from babel_core import keys
from babel_core.address import parse_address
from babel_core.edition import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, TINY
from babel_core.jobs import Job, Result
from babel_core.worker import Worker
from bot import reply as r
from bot.commands.replies import NOTHING
from bot.discord_front.review import Review
from tests.conftest import service_settings


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def expedition_worker(redis_server, threshold: float) -> Worker:
    settings = service_settings(
        redis_server, expeditions="on", expedition_threshold=threshold, worker_batch=4
    )
    return Worker(settings, redis_server.url, name="explorer")


def finds(url: str) -> list[dict]:
    entries = redis.Redis.from_url(url).xrange(keys.EXPEDITIONS)
    return [json.loads(fields[b"find"]) for _, fields in entries]


def test_an_expedition_posts_the_volumes_scoring_at_least_the_threshold(redis_server):
    from babel_core.read import Reader

    expedition_worker(redis_server, 1.01).desk.expedition()  # no score reaches 1.01
    assert finds(redis_server.url) == []
    expedition_worker(redis_server, 0.0).desk.expedition()  # every score reaches 0
    found, reference = finds(redis_server.url), Reader(TINY)
    r_ = redis.Redis.from_url(redis_server.url)
    assert len(found) == 4  # worker_batch volumes
    assert [f["score"] for f in found] == sorted((f["score"] for f in found), reverse=True)
    for f in found:
        alone = reference.read(parse_address(f["address"]), DEFAULT_PROMPT, DEFAULT_MAX_TOKENS)
        assert (f["token_ids"], f["fingerprint"], f["edition"], f["prompt"], f["worker"]) == (
            alone.token_ids,
            alone.fingerprint,
            "tiny/v1",
            DEFAULT_PROMPT,
            "explorer",
        )
        read = Job.read(f["address"], edition="tiny")  # Read under a find needs no worker
        assert Result.from_json(r_.get(keys.result(read.id))).fingerprint == alone.fingerprint


async def test_an_idle_worker_goes_on_expeditions(workers, redis_server):
    workers(service_settings(redis_server, expeditions="on", expedition_threshold=0.0))
    r_ = redis.Redis.from_url(redis_server.url)
    for _ in range(600):
        if r_.xlen(keys.EXPEDITIONS):
            break
        await asyncio.sleep(0.05)
    assert r_.xlen(keys.EXPEDITIONS) > 0


async def test_each_find_is_posted_once_by_one_of_the_bots(redis_server):
    expedition_worker(redis_server, 0.0).desk.expedition()
    found = finds(redis_server.url)
    a = redis.asyncio.Redis.from_url(redis_server.url)
    b = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        posted_a, posted_b = [], []

        async def to_a(channel, reply):
            posted_a.append(reply)
            assert channel == 99  # the library's review channel

        async def to_b(channel, reply):
            posted_b.append(reply)

        assert await Review(a, 99, "bot-a").forward_once(to_a) == 4
        assert await Review(b, 99, "bot-b").forward_once(to_b) == 0
        assert await Review(a, 99, "bot-a").forward_once(to_a) == 0
        assert [p.title for p in posted_a] == [f"Expedition find: {f['address']}" for f in found]
        first = posted_a[0]
        assert (first.kind, first.description) == (r.READING, found[0]["text"] or NOTHING)
        assert {f.name: f.value for f in first.fields}[
            "Score"
        ] == f"{found[0]['score']:.3f} (default)"
        assert [(b.action, b.address, b.prompt_key) for b in first.buttons] == [
            (r.READ, found[0]["address"], ""),
            (r.SHARE, found[0]["address"], ""),
        ]
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_find_that_could_not_be_posted_is_posted_later(redis_server):
    expedition_worker(redis_server, 0.0).desk.expedition()
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:

        async def broken(channel, reply):
            raise ConnectionError("Discord is away")

        posted = []

        async def working(channel, reply):
            posted.append(reply)

        with pytest.raises(ConnectionError):
            await Review(client, 99, "bot-a").forward_once(broken)
        assert await Review(client, 99, "bot-a").forward_once(working) == 4  # the held find, too
    finally:
        await client.aclose()
