"""What the bot remembers per person, in Redis, so every bot process shares it.

- `Limits`: a cooldown between requests that queue work, and at most N of them in flight per
  person, checked and taken in one Lua script (atomic across processes). The clock is the
  caller's (injectable for tests); the keys expire on their own, so a crashed process never
  leaves a person locked out for longer than a job's time limit.
- `UserState`: the last volume a person read and with which prompt (for `next` / `prev`), their
  recently read addresses (slash-command autocomplete), and prompts by a short key (buttons
  carry the key, since a prompt does not fit in a button's 100-character id).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from babel_core.edition import DEFAULT_PROMPT

from . import keys

RECENT = 10  # addresses remembered per person for autocomplete

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


@dataclass(frozen=True)
class Verdict:
    ok: bool
    wait_s: float = 0.0  # cooldown left, when refused for that
    in_flight: int = 0  # jobs in flight, when refused for that


class Limits:
    """Per-person cooldown and jobs in flight, shared by every process on the same Redis."""

    def __init__(
        self,
        redis,
        cooldown_s: float,
        max_jobs: int,
        job_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ):
        self.redis = redis
        self.cooldown_ms = int(cooldown_s * 1000)
        self.max_jobs = max_jobs
        self.hold_ms = int((job_timeout_s + 60) * 1000)  # a slot outlives its job's time limit
        self.clock = clock
        self._acquire = redis.register_script(_ACQUIRE)

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


def prompt_key(prompt: str) -> str:
    """A short stable key for a prompt ("" for the default prompt, which needs no storage)."""
    if prompt == DEFAULT_PROMPT:
        return ""
    return hashlib.blake2b(prompt.encode(), digest_size=6, person=b"babel-prompt").hexdigest()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class UserState:
    """Last volume, recent addresses and stored prompts, per edition, in Redis."""

    def __init__(self, redis, edition_id: str):
        self.redis = redis
        self.edition_id = edition_id

    async def remember(self, user_id: str, address: str, prompt: str) -> None:
        """Record a volume the person just read."""
        recent = keys.user_recent(self.edition_id, user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.user_last(self.edition_id, user_id),
                mapping={"address": address, "prompt": prompt},
            )
            pipe.lrem(recent, 0, address)
            pipe.lpush(recent, address)
            pipe.ltrim(recent, 0, RECENT - 1)
            await pipe.execute()

    async def last(self, user_id: str) -> tuple[str, str] | None:
        """(address, prompt) of the last volume the person read, or None."""
        found = await self.redis.hgetall(keys.user_last(self.edition_id, user_id))
        if not found:
            return None
        found = {_text(k): _text(v) for k, v in found.items()}
        return found["address"], found["prompt"]

    async def recent(self, user_id: str) -> list[str]:
        """Addresses the person read lately, the latest first."""
        items = await self.redis.lrange(keys.user_recent(self.edition_id, user_id), 0, -1)
        return [_text(a) for a in items]

    async def save_prompt(self, prompt: str) -> str:
        """Store a prompt for buttons; returns its key."""
        key = prompt_key(prompt)
        if key:
            await self.redis.set(keys.prompt(key), prompt, ex=keys.PROMPT_TTL_S)
        return key

    async def prompt(self, key: str) -> str:
        """The prompt stored under key; the default prompt when the key is "" or expired."""
        if not key:
            return DEFAULT_PROMPT
        found = await self.redis.get(keys.prompt(key))
        return DEFAULT_PROMPT if found is None else _text(found)
