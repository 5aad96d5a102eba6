"""Expeditions' finds, forwarded to the review channel (BABEL_REVIEW_CHANNEL) for people to judge.

Workers with BABEL_EXPEDITIONS=on hunt while idle and post volumes whose reading scores at
least BABEL_EXPEDITION_THRESHOLD to the stream `keys.EXPEDITIONS` (babel_core/worker.py). Bots
read that stream through one consumer group (`keys.REVIEWERS`), so each find is posted by one
bot, once; a find is acknowledged only after it was posted, so one that could not be posted
(Discord down, a missing permission) is tried again. The consumer is named after the host, so a
restarted bot takes up what it had read and not yet posted. docs/hunting.md, "Expeditions".
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable

import redis.exceptions

from babel_core import keys
from babel_core.jobs import Candidate

from .. import reply as r
from ..commands.memory import Memory
from ..commands.replies import NOTHING

log = logging.getLogger(__name__)

RETRY_S = 30.0  # after a failure to read the stream or to post, wait this long
Post = Callable[[r.Reply], Awaitable[None]]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Expeditions:
    """The review channel's side of expeditions: read finds, draw them, acknowledge them."""

    def __init__(self, redis, consumer: str | None = None):
        self.redis = redis
        self.consumer = consumer or socket.gethostname()
        self._group_ready = False

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.EXPEDITIONS, keys.REVIEWERS, id="0", mkstream=True)
        except redis.exceptions.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    async def forward_once(self, post: Post, block_ms: int | None = None) -> int:
        """Post the finds this consumer holds, then new ones (waiting up to block_ms for
        some); each is acknowledged once posted. Returns how many were posted."""
        if not self._group_ready:
            await self._ensure_group()
        posted = 0
        for start, block in (("0", None), (">", block_ms)):
            reply = await self.redis.xreadgroup(
                keys.REVIEWERS, self.consumer, {keys.EXPEDITIONS: start}, count=20, block=block
            )
            for _, entries in reply or []:
                for entry, fields in entries:
                    if fields:  # an entry trimmed away while pending has none
                        found = {_text(k): v for k, v in fields.items()}["find"]
                        await post(await self.reply(json.loads(found)))
                        posted += 1
                    await self.redis.xack(keys.EXPEDITIONS, keys.REVIEWERS, entry)
        return posted

    async def forward(self, post: Post) -> None:
        """Forward finds until cancelled; failures are logged and retried."""
        while True:
            try:
                await self.forward_once(post, block_ms=5000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not forward expeditions' finds; retrying")
                await asyncio.sleep(RETRY_S)

    async def reply(self, find: dict) -> r.Reply:
        """A find as a reading for the review channel, with Read and Share buttons."""
        c = Candidate(**{k: find[k] for k in Candidate.__dataclass_fields__})
        key = await Memory(self.redis, find["edition"]).save_prompt(find["prompt"])
        return r.Reply(
            r.READING,
            c.text or NOTHING,
            title=f"Expedition find: {c.address}",
            fields=(
                r.Field("Prompt", find["prompt"], inline=False),
                r.Field("Score", f"{c.score:.3f} (default)"),
                r.Field("Fingerprint", c.fingerprint),
                r.Field("Found by", _text(find.get("worker", ""))),
            ),
            footer=f"{find['edition']} · a worker's expedition; judge it, share it if it is good",
            buttons=(
                r.Button(r.READ, "Read", address=c.address, prompt_key=key),
                r.Button(r.SHARE, "Share", address=c.address, prompt_key=key),
            ),
            full_text_name=f"{c.address}.txt",
        )


async def forward_to_review_channel(bot) -> None:
    """The bot's background task: post every find in settings.review_channel."""
    from .ui import message_kwargs

    await bot.wait_until_ready()

    async def post(reply: r.Reply) -> None:
        await send_to_review_channel(bot, message_kwargs(reply, edit=False))

    await Expeditions(bot.runner.redis).forward(post)


async def send_to_review_channel(bot, kwargs: dict) -> None:
    channel_id = bot.settings.review_channel
    channel = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
    await channel.send(**kwargs)
