"""Fixtures for the bot's tests: a real Redis, a real in-process worker, a command runner.

A test module uses them with `pytest_plugins = ["shelf_fixtures"]`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest
import redis.asyncio
from conftest import RedisServer

from babel_core.client import LibraryClient
from babel_core.settings import Settings
from babel_core.worker import Worker
from bot.actor import Actor
from bot.commands.runner import Runner


@dataclass
class Library:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A real Redis and one in-process worker reading the tiny edition, for a test module."""
    folder = tmp_path_factory.mktemp("library")
    server = RedisServer(folder).start()
    url = server.url
    settings = Settings(
        edition="tiny",
        data_dir=folder,
        redis_url=url,
        weights_in_redis="off",
        cooldown_s=0.0,
        commands_per_10s=0,  # tests of the rate window ask for one
        job_timeout_s=60.0,
        claim_idle_s=3.0,  # the heartbeat thread (every claim_idle_s / 3) stops within 1 s
    )
    worker = Worker(settings, url, name="test-worker")
    worker.queue.ensure_group()
    thread = worker.start_thread()
    yield Library(url, settings)
    worker.stop()
    thread.join(timeout=30)
    server.stop()


@pytest.fixture
async def shelf(library):
    """A factory of command runners on the library's Redis: shelf(clock=..., cooldown_s=...)."""
    made = []

    def make(url: str | None = None, *, clock=None, rng=None, invocation="!shelf ", **changes):
        settings = replace(library.settings, **changes)
        r = redis.asyncio.Redis.from_url(url or library.url)
        client = LibraryClient(r, settings, poll_s=0.2)
        made.append((r, client))
        extra = {"clock": clock} if clock is not None else {}
        return Runner(settings, r, client, invocation=invocation, rng=rng, **extra)

    yield make
    for r, client in made:
        await client.close()
        await r.aclose()


def new_requester() -> Actor:
    """A person nobody else in the test run is (limits and memory are per person)."""
    return Actor(f"user-{uuid.uuid4().hex[:12]}", "someone", "guild-1")


@pytest.fixture
def someone():
    """someone() is a new person each time it is called."""
    return new_requester
