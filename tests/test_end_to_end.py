"""The whole path with no Discord connection: a command typed in a channel, the job through a
real Redis, a `shelf worker` process reading a tiny-edition volume, the reply back in Discord."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio
from conftest import RedisServer
from fake_discord import FakeDiscord, ShelfHarness

from babel_core import keys
from babel_core.address import parse_address
from babel_core.client import LibraryClient
from babel_core.edition import TINY
from babel_core.jobs import Job, Result
from babel_core.settings import Settings
from bot.commands import Shelf
from bot.discord_front.app import ShelfBot
from bot.safety import escape

ROOT = Path(__file__).resolve().parents[1]
READER = 700_000_000_000_000_020


@pytest.fixture
def worker_process(tmp_path):
    """A real Redis and a `shelf worker` process serving it."""
    server = RedisServer(tmp_path).start()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": server.url,
        "BABEL_EDITION": "tiny",
        "BABEL_WEIGHTS_IN_REDIS": "off",
        "BABEL_WORKER_NAME": "e2e-worker",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield server
    process.terminate()
    process.wait(30)
    server.stop()


async def test_a_typed_command_is_read_by_a_worker_process_and_answered(worker_process):
    from babel_core.read import Reader

    settings = Settings(edition="tiny", redis_url=worker_process.url, cooldown_s=0.0)
    r = redis.asyncio.Redis.from_url(worker_process.url)
    client = LibraryClient(r, settings, poll_s=0.2)
    core = Shelf(settings, r, client, invocation="!shelf ")
    fake = FakeDiscord()
    with fake.installed():
        bot = await ShelfHarness(ShelfBot(settings, core=core), fake).start()
        try:
            await bot.message("!shelf read babel-w3-s2-v17 Once upon a time", READER)
        finally:
            await bot.stop()
            await client.close()
            await r.aclose()

    expected = Reader(TINY).read(parse_address("babel-w3-s2-v17"), "Once upon a time")
    (embed,) = fake.sent()[-1].message["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "babel-w3-s2-v17"
    assert embed["description"] == escape(expected.text)
    assert fields["Fingerprint"] == expected.fingerprint
    assert embed["footer"]["text"] == "tiny/v1 · read by e2e-worker \\(cpu\\)"
    job = Job.read("babel-w3-s2-v17", "Once upon a time", edition="tiny")
    check = redis.asyncio.Redis.from_url(worker_process.url)
    stored = Result.from_json(await check.get(keys.result(job.id)))  # answered through Redis
    await check.aclose()
    assert (stored.worker, stored.fingerprint) == ("e2e-worker", expected.fingerprint)
