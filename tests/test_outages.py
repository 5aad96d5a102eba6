"""Redis restarts and outages as people and operators see them: the console's next command
works, each outage is two log lines, no connection is left dangling, cancels say what is true,
reclaims say who took over what."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import warnings

import redis
import redis.asyncio

from babel_core import keys
from babel_core.client import BEING_READ, NOT_QUEUED, NOT_YOURS, WITHDRAWN
from babel_core.edition import TINY
from babel_core.jobs import Job
from babel_core.queue import Queue, ensure_group
from bot.catalogue.discoveries import Discoveries
from bot.catalogue.durable import Durability
from tests.catalogue_support import ann, reading
from tests.conftest import service_settings


def tiny_job(address: str, prompt: str = "outage") -> Job:
    return Job.read(address, prompt, 2, edition="tiny")


class Lines:
    """stdin for the console: each line is handed over after `between()` runs for it."""

    def __init__(self, *steps):
        self.steps = steps

    def isatty(self) -> bool:
        return False

    def __iter__(self):
        for line, between in self.steps:
            between()
            yield line + "\n"


def test_the_consoles_first_command_after_a_redis_restart_is_answered(redis_server):
    from bot import console

    settings = console.console_settings(service_settings(redis_server), "tiny", "cpu")
    out, err = io.StringIO(), io.StringIO()
    lines = Lines(
        ("read babel-w3-s2-v17 before", lambda: None),
        ("read babel-w3-s2-v18 after", redis_server.restart),  # SIGTERM, then the same files
        ("read babel-w3-s2-v19 again", lambda: None),
    )
    assert console.run(settings, stdin=lines, stdout=out, stderr=err) == 0
    shown = out.getvalue() + err.getvalue()
    assert "unreachable" not in shown
    for address in ("babel-w3-s2-v17", "babel-w3-s2-v18", "babel-w3-s2-v19"):
        assert address in shown


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    client, workers, redis_server, caplog
):
    jobs = [tiny_job(f"outage-w1-s1-v{v}") for v in range(1, 9)]
    for job in jobs:
        await client.submit(job, "user:1")
    caplog.set_level(logging.DEBUG, logger="babel_core.client")
    waiting = [asyncio.create_task(client.wait(job.id, timeout=60)) for job in jobs]
    for _ in range(2):  # two outages of 1.5 s, eight requests polling every 0.5 s through them
        await asyncio.sleep(0.6)
        await asyncio.to_thread(redis_server.stop)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(redis_server.start)
    workers()
    assert all(result.ok for result in await asyncio.gather(*waiting))
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 4, said
    assert said[0].startswith("Redis unreachable") and said[0].endswith(
        "8 waiting requests ride it out"
    )
    assert said[1].startswith("Redis reachable again after 1.")


async def test_a_catalogue_write_after_a_restart_leaves_no_connection_dangling(redis_server):
    r = redis.asyncio.Redis.from_url(redis_server.url)  # no retries: the write fails
    catalogue = Discoveries(r, await Durability.detect(r))
    await catalogue.share(ann, TINY, "babel-w1-s1-v1", "p", 32, reading())
    redis_server.restart()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            await catalogue.share(ann, TINY, "babel-w1-s1-v2", "p", 32, reading())
        except redis.ConnectionError:
            pass
        gc.collect()
    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []
    await r.aclose()


async def test_a_refused_cancel_says_what_is_true(client, redis_server):
    r = redis.Redis.from_url(redis_server.url)
    ensure_group(r)
    queue = Queue(r, "w", 3600)
    read, handed, mine = (tiny_job(f"cancel-w1-s1-v{v}") for v in (1, 2, 3))
    for job in (read, handed, mine):
        await client.submit(job, "user:1")
    [taken, back] = queue.read_new(2, None)  # a worker reads one and hands the other back
    queue.hand_back([back.entry])
    assert await client.withdraw(read.id, "user:1") == BEING_READ
    assert await client.position(handed.id) == 1  # handed back: waiting, next in line
    assert await client.withdraw(handed.id, "user:1") == WITHDRAWN  # so it can be withdrawn
    assert await client.withdraw(mine.id, "user:2") == NOT_YOURS
    assert await client.withdraw(mine.id, "user:1") == WITHDRAWN
    assert await client.withdraw(mine.id, "user:1") == NOT_QUEUED
    assert r.xpending(keys.JOBS, keys.GROUP)["pending"] == 1  # only the one being read
