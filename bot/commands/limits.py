"""Per-person and per-server limits, in Redis, so that every bot process enforces the same ones.

The numbers are the server's (bot/server_settings.py: its admins may change them), by a
command's cost (catalog/):

- commands that send work to a worker (READS) pay a cooldown between them; a person has at
  most `max_jobs` of them in flight, and a server `max_jobs_per_server`; all three are checked
  and taken in one Lua script (atomic across processes). A slot is held by a token that lapses
  on its own, so a crashed process never locks anyone out for longer than a job's time limit;
  long work renews it.
- a find (FIND) is the dearest: the same script with a cooldown and a slot of its own
  (`find_cooldown_s`, one find in flight per person); it counts toward the server's jobs.
- every other command is cheap, and shares a rate window: `commands_per_10s` per person per
  ten seconds (0: no limit). Only the first refusal in a window is worth an answer; the rest
  are `quiet`, so a person who spams gets one "slow down", not one per message.
- `Quotas`: volumes read per day (UTC) by one person in a server, and by the whole server;
  taken before the work is queued, refused with when the day's count starts again.

The clock is the caller's (injectable for tests); every key expires on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from babel_core.errors import LibraryError
from babel_core.settings import Settings

from .. import keys
from ..actor import Actor
from ..server_settings import ServerSettings
from .catalog import ADMIN, FIND, READS

WINDOW_MS = 10_000

# KEYS: cooldown, the person's in-flight set, the server's. ARGV: now_ms, cooldown_ms,
# max_jobs, token, deadline_ms, max_jobs_per_server.
# Returns {0, jobs in flight} when taken, {1, ms left} in cooldown, {2, jobs} when the person
# is full, {3, jobs} when the server is.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local ready = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < ready then return {1, ready - now} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local n = redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[3]) then return {2, n} end
local everyone = redis.call('ZCARD', KEYS[3])
if everyone >= tonumber(ARGV[6]) then return {3, everyone} end
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], ARGV[5], ARGV[4])
  redis.call('PEXPIREAT', KEYS[i], ARGV[5])
end
local cooldown = tonumber(ARGV[2])
if cooldown > 0 then redis.call('SET', KEYS[1], now + cooldown, 'PX', cooldown) end
return {0, n + 1}
"""

# KEYS: the person's window. ARGV: limit, window_ms. Returns {commands in the window, ms left}.
_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


# KEYS: the person's count today, the server's. ARGV: volumes, the person's limit, the
# server's (0: none), seconds to keep the counts. Returns {0, the person's count} when taken,
# {1, count} when the person's limit refuses, {2, count} when the server's does.
_CHARGE = """
local n = tonumber(ARGV[1])
local mine = tonumber(redis.call('GET', KEYS[1]) or '0')
local ours = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > 0 and mine + n > tonumber(ARGV[2]) then return {1, mine} end
if tonumber(ARGV[3]) > 0 and ours + n > tonumber(ARGV[3]) then return {2, ours} end
for i = 1, 2 do
  redis.call('INCRBY', KEYS[i], n)
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return {0, mine + n}
"""
DAY_S = 86_400


@dataclass(frozen=True)
class Verdict:
    ok: bool
    wait_s: float = 0.0  # cooldown or window left, when refused for that
    in_flight: int = 0  # jobs in flight, when refused for that
    quiet: bool = False  # a refusal the person was already told about in this window
    server: bool = False  # refused for the whole server's jobs in flight

    @property
    def message(self) -> str:
        if self.server:
            return (
                "This server has as many requests in progress as it may have at once. "
                "Try again in a moment."
            )
        if self.in_flight and not self.wait_s:
            n = self.in_flight
            return (
                f"You already have {n} request{'s' * (n != 1)} in progress, the most at once. "
                "Wait for one to finish, or cancel it."
            )
        return f"Slow down: you can ask the library again in {seconds_left(self.wait_s)} s."


class Limits:
    """Cooldowns, slots and rate windows for everyone, on one Redis."""

    def __init__(self, redis, settings: Settings, clock: Callable[[], float] = time.time):
        self.redis = redis
        self.max_jobs_per_server = settings.max_jobs_per_server
        self.find_cooldown_s = settings.find_cooldown_s
        # a slot outlives its job's time limit
        self.hold_ms = int((settings.job_timeout_s + 60) * 1000)
        self.clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._window = redis.register_script(_WINDOW)

    async def admit(self, actor: Actor, cost: str, token: str, server: ServerSettings) -> Verdict:
        """Let a command of this cost through (taking a slot named `token` for READS and FIND),
        or say why not."""
        if cost == READS:
            return await self.acquire(actor, token, server)
        if cost == FIND:
            return await self.acquire(actor, token, server, find=True)
        limit = server.commands_per_10s
        if limit <= 0 or cost == ADMIN:  # no window: the console, and settings (an admin who
            return Verdict(True)  # set a tight limit must still be able to undo it)
        n, left_ms = await self._window(
            keys=[keys.user_window(actor.user_id)], args=[limit, WINDOW_MS]
        )
        if int(n) <= limit:
            return Verdict(True)
        return Verdict(False, wait_s=max(int(left_ms), 0) / 1000, quiet=int(n) > limit + 1)

    async def acquire(
        self, actor: Actor, token: str, server: ServerSettings, find: bool = False
    ) -> Verdict:
        """Take a slot for one job (named by token), or say why not. A find has a cooldown and
        a slot of its own: one at a time, `find_cooldown_s` apart."""
        now = int(self.clock() * 1000)
        finds = keys.user_finds(actor.user_id)
        mine = (
            [f"{finds}:cooldown", f"{finds}:jobs"]
            if find
            else [keys.user_cooldown(actor.user_id), keys.user_jobs(actor.user_id)]
        )
        code, value = await self._acquire(
            keys=[*mine, keys.server_jobs(actor.guild_id)],
            args=[
                now,
                int((self.find_cooldown_s if find else server.cooldown_s) * 1000),
                1 if find else server.max_jobs,
                token,
                now + self.hold_ms,
                self.max_jobs_per_server,
            ],
        )
        if code == 0:
            return Verdict(True, in_flight=int(value))
        if code == 1:
            return Verdict(False, wait_s=int(value) / 1000)
        return Verdict(False, in_flight=int(value), server=code == 3)

    async def renew(self, actor: Actor, token: str) -> None:
        """Hold the slot `token` for another hold time: work that outlasts one job's time limit
        (a long hunt) keeps its slot while it runs, and loses it within a hold time if the
        process that holds it dies."""
        until = int(self.clock() * 1000) + self.hold_ms
        pipe = self.redis.pipeline(transaction=True)
        for key in _slots(actor):
            pipe.zadd(key, {token: until}, xx=True)  # only where the slot is
            pipe.pexpireat(key, until)  # the latest slot: none ends later
        await pipe.execute()

    async def release(self, actor: Actor, token: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for key in _slots(actor):
            pipe.zrem(key, token)
        await pipe.execute()


def _slots(actor: Actor) -> tuple[str, ...]:
    """Every set a slot of the actor's may be in (a reading's, a find's, the server's)."""
    return (
        keys.user_jobs(actor.user_id),
        f"{keys.user_finds(actor.user_id)}:jobs",
        keys.server_jobs(actor.guild_id),
    )


@dataclass(frozen=True)
class Usage:
    """Volumes read today, by the person here and by everyone here, and their limits."""

    mine: int
    ours: int
    person_limit: int
    server_limit: int
    resets_in_s: int


class Quotas:
    """Volumes read per day (UTC), per person in a server and per server."""

    def __init__(self, redis, clock: Callable[[], float] = time.time):
        self.redis = redis
        self.clock = clock
        self._charge = redis.register_script(_CHARGE)

    def _keys(self, actor: Actor) -> list[str]:
        day = time.strftime("%Y-%m-%d", time.gmtime(self.clock()))
        guild = actor.guild_id or "-"
        return [
            keys.quota(f"user:{guild}:{actor.user_id}", day),
            keys.quota(f"server:{guild}", day),
        ]

    def resets_in_s(self) -> int:
        return DAY_S - int(self.clock()) % DAY_S

    async def charge(self, actor: Actor, volumes: int, server: ServerSettings) -> None:
        """Count `volumes` against today's quotas, or refuse (QuotaReached) and count nothing."""
        if not server.quota_person and not server.quota_server:
            return
        code, count = await self._charge(
            keys=self._keys(actor),
            args=[volumes, server.quota_person, server.quota_server, 2 * DAY_S],
        )
        if code == 0:
            return
        left = self.resets_in_s()
        when = f"at 00:00 UTC, in {left // 3600} h {left % 3600 // 60} min"
        if code == 1:
            limit, whose = server.quota_person, "You have"
        else:
            limit, whose = server.quota_server, "This server has"
        asked = f" (this asks for {volumes:,})" if volumes > 1 else ""
        raise QuotaReached(
            f"{whose} read {int(count):,} of {limit:,} volumes today{asked}. The count starts "
            f"again {when}."
        )

    async def usage(self, actor: Actor, server: ServerSettings) -> Usage:
        mine, ours = await self.redis.mget(self._keys(actor))
        return Usage(
            int(mine or 0),
            int(ours or 0),
            server.quota_person,
            server.quota_server,
            self.resets_in_s(),
        )


class QuotaReached(LibraryError):
    """Today's volumes are read; the message says when the count starts again."""


def seconds_left(wait_s: float) -> int:
    """Whole seconds a person is told to wait (rounded up: never 'try again in 0 s')."""
    return max(1, math.ceil(wait_s - 1e-9))
