"""What the bot remembers per person, in Redis, so every bot process shares it.

`Memory` keeps the last volume a person read and with which prompt (for `next` / `prev`), their
recently read addresses (slash-command autocomplete), and prompts by a short key (buttons carry
the key, since a prompt does not fit in a button's 100-character id).
"""

from __future__ import annotations

import hashlib

from babel_core.edition import DEFAULT_PROMPT

from .. import keys

RECENT = 10  # addresses remembered per person for autocomplete


def prompt_key(prompt: str) -> str:
    """A short stable key for a prompt ("" for the default prompt, which needs no storage)."""
    if prompt == DEFAULT_PROMPT:
        return ""
    return hashlib.blake2b(prompt.encode(), digest_size=6, person=b"babel-prompt").hexdigest()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Memory:
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
