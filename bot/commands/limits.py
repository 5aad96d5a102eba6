"""Per-person limits, in Redis, so that every bot process enforces the same ones.

Two kinds, by a command's cost (catalog.py):

- commands that send work to a worker (READS) pay a cooldown between them, and a person has
  at most `max_jobs_per_user` of them in flight; both are checked and taken in one Lua script
  (atomic across processes). A slot is held by a token that lapses on its own, so a crashed
  process never locks a person out for longer than a job's time limit; long work renews it.
- every other command is cheap, and shares a rate window: `commands_per_10s` per person per
  ten seconds (0: no limit). Only the first refusal in a window is worth an answer; the rest
  are `quiet`, so a person who spams gets one "slow down", not one per message.

The clock is the caller's (injectable for tests); every key expires on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from babel_core.settings import Settings

from .. import keys
from .catalog import READS

WINDOW_MS = 10_000

# KEYS: cooldown, in-flight set. ARGV: now_ms, cooldown_ms, max_jobs, token, deadline_ms.
# Returns {0, jobs in flight} when taken, {1, ms left} in cooldown, {2, jobs} when full.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local ready = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < ready then return {1, ready - now} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local n = redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[3]) then return {2, n} end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
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


@dataclass(frozen=True)
class Verdict:
    ok: bool
    wait_s: float = 0.0  # cooldown or window left, when refused for that
    in_flight: int = 0  # jobs in flight, when refused for that
    quiet: bool = False  # a refusal the person was already told about in this window

    @property
    def message(self) -> str:
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
        self.cooldown_ms = int(settings.cooldown_s * 1000)
        self.max_jobs = settings.max_jobs_per_user
        self.per_window = settings.commands_per_10s
        # a slot outlives its job's time limit
        self.hold_ms = int((settings.job_timeout_s + 60) * 1000)
        self.clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._window = redis.register_script(_WINDOW)

    async def admit(self, user_id: str, cost: str, token: str) -> Verdict:
        """Let a command of this cost through (taking a slot named `token` for READS), or say
        why not."""
        if cost == READS:
            return await self.acquire(user_id, token)
        if self.per_window <= 0:  # no rate window (the console: one person, their own library)
            return Verdict(True)
        n, left_ms = await self._window(
            keys=[keys.user_window(user_id)], args=[self.per_window, WINDOW_MS]
        )
        if int(n) <= self.per_window:
            return Verdict(True)
        return Verdict(
            False, wait_s=max(int(left_ms), 0) / 1000, quiet=int(n) > self.per_window + 1
        )

    async def acquire(self, user_id: str, token: str) -> Verdict:
        """Take a slot for one job (named by token), or say why not."""
        now = int(self.clock() * 1000)
        code, value = await self._acquire(
            keys=[keys.user_cooldown(user_id), keys.user_jobs(user_id)],
            args=[now, self.cooldown_ms, self.max_jobs, token, now + self.hold_ms],
        )
        if code == 0:
            return Verdict(True, in_flight=int(value))
        if code == 1:
            return Verdict(False, wait_s=int(value) / 1000)
        return Verdict(False, in_flight=int(value))

    async def renew(self, user_id: str, token: str) -> None:
        """Hold the slot `token` for another hold time: work that outlasts one job's time limit
        (a long hunt) keeps its slot while it runs, and loses it within a hold time if the
        process that holds it dies."""
        until = int(self.clock() * 1000) + self.hold_ms
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(keys.user_jobs(user_id), {token: until}, xx=True)
        pipe.pexpireat(keys.user_jobs(user_id), until)  # the latest slot: none ends later
        await pipe.execute()

    async def release(self, user_id: str, token: str) -> None:
        await self.redis.zrem(keys.user_jobs(user_id), token)


def seconds_left(wait_s: float) -> int:
    """Whole seconds a person is told to wait (rounded up: never 'try again in 0 s')."""
    return max(1, math.ceil(wait_s - 1e-9))
