"""The caches: stored readings, the worker's volume LRU, volumes' weights in Redis."""

from __future__ import annotations

import asyncio

import redis
import torch

from babel_core import keys
from babel_core.address import parse_address
from babel_core.cache import RedisWeights, VolumeLRU, measure_weights_tier, weights_tier_on
from babel_core.edition import TINY
from babel_core.fastread import FastReader
from babel_core.jobs import MISS, READING, VOLUME, WEIGHTS, Job
from babel_core.read import Reader
from tests.conftest import service_settings

PROMPT = "the cache"


def tiny_job(address: str = "babel-w3-s2-v17", prompt: str = PROMPT) -> Job:
    return Job.read(address, prompt, 6, edition="tiny")


async def test_a_stored_reading_answers_without_any_worker(client, workers):
    worker = workers()
    first = await client.request(tiny_job(), "user:1", timeout=60)
    worker.stop()
    for _ in range(100):  # the worker leaves the registry on its way out
        if not await client.workers_alive():
            break
        await asyncio.sleep(0.05)
    assert await client.workers_alive() == 0
    ticket = await client.submit(tiny_job(), "user:2")
    assert ticket.cached is not None and ticket.cached.cache == READING
    again = ticket.cached
    assert (again.text, again.token_ids, again.fingerprint) == (
        first.text,
        first.token_ids,
        first.fingerprint,
    )
    assert first.cache == MISS


def test_the_volume_lru_keeps_within_its_byte_budget():
    volume = 1000 * 4  # bytes of one 1000-weight float32 volume
    lru = VolumeLRU(int(2.5 * volume))
    for n in range(3):
        assert lru.put(("e", f"v{n}"), torch.full((1000,), float(n)))
    assert (len(lru), lru.bytes) == (2, 2 * volume)
    assert ("e", "v0") not in lru  # the least recently used went first
    out = torch.empty(1000)
    assert lru.restore(("e", "v1"), out) and out[0].item() == 1.0
    lru.put(("e", "v3"), torch.zeros(1000))  # v2 is now the least recently used
    assert (("e", "v1") in lru, ("e", "v2") in lru, ("e", "v3") in lru) == (True, False, True)
    assert lru.put(("e", "big"), torch.zeros(3000)) is False  # larger than the whole budget
    assert lru.bytes == 2 * volume <= lru.budget


def test_the_volume_lru_keeps_a_copy_not_the_live_buffer():
    lru, flat = VolumeLRU(10_000), torch.ones(100)
    lru.put(("e", "v"), flat)
    flat.zero_()  # the reader builds the next volume into the same buffer
    out = torch.empty(100)
    lru.restore(("e", "v"), out)
    assert out.sum().item() == 100.0


async def test_a_worker_reuses_volumes_it_built(client, workers):
    workers()
    a1 = await client.request(tiny_job("babel-w1-s1-v1", "one"), "u", timeout=60)
    b = await client.request(tiny_job("babel-w1-s1-v2", "one"), "u", timeout=60)
    a2 = await client.request(tiny_job("babel-w1-s1-v1", "two"), "u", timeout=60)
    assert (a1.cache, b.cache, a2.cache) == (MISS, MISS, VOLUME)
    direct = Reader(TINY).read(parse_address("babel-w1-s1-v1"), "two", 6)
    assert a2.token_ids == direct.token_ids  # the restored volume is the volume


async def test_a_fresh_reread_is_built_again_and_leaves_the_stored_reading(client, workers):
    workers()
    first = await client.request(tiny_job(), "u", timeout=60)
    again = await client.request(tiny_job().reread(), "u", timeout=60)
    assert (first.cache, again.cache) == (MISS, MISS)  # the volume was in memory: not used
    assert again.job_id != first.job_id and again.fingerprint == first.fingerprint
    stored = (await client.submit(tiny_job(), "u")).cached
    assert stored is not None and stored.finished_at == first.finished_at


async def test_a_fresh_worker_fetches_weights_another_stored(client, workers, redis_server):
    settings = service_settings(redis_server, weights_in_redis="on")
    first = workers(settings)
    built = await client.request(tiny_job(prompt="built"), "u", timeout=60)
    first.stop()
    workers(settings)
    fetched = await client.request(tiny_job(prompt="fetched"), "u", timeout=60)
    assert (built.cache, fetched.cache) == (MISS, WEIGHTS)
    r = redis.Redis.from_url(redis_server.url)
    key = keys.weights(TINY.id, "babel-w3-s2-v17")
    assert r.strlen(key) == TINY.param_count * 4
    assert 0 < r.ttl(key) <= settings.reading_ttl_s


def test_redis_weights_keep_within_their_byte_budget(redis_server):
    r = redis.Redis.from_url(redis_server.url)
    tier = RedisWeights(r, budget_bytes=2 * 400, ttl_s=60)
    for n in range(3):
        assert tier.store("e/v1", f"a{n}", torch.full((100,), float(n)))
    assert r.exists(*(keys.weights("e/v1", f"a{n}") for n in range(3))) == 2
    out = torch.empty(100)
    assert tier.fetch("e/v1", "a0", out) is False  # evicted first
    assert tier.fetch("e/v1", "a2", out) and out[0].item() == 2.0
    assert tier.store("e/v1", "huge", torch.zeros(1000)) is False


def test_the_weights_tier_is_chosen_by_measurement_or_setting(redis_server):
    r = redis.Redis.from_url(redis_server.url)
    build_s, fetch_s = measure_weights_tier(FastReader(TINY), r)
    assert build_s > 0 and fetch_s > 0
    assert r.keys(keys.weights(TINY.id, "*")) == []  # the scratch copy is gone
    assert weights_tier_on("auto", build_s=0.25, fetch_s=0.5) is False
    assert weights_tier_on("auto", build_s=0.5, fetch_s=0.25) is True
    assert weights_tier_on("on", 0.25, 0.5) is True and weights_tier_on("off", 0.5, 0.1) is False
