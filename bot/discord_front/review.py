"""What review channels get: expeditions' finds, and reports on what a server shows.

- Workers with BABEL_EXPEDITIONS=on hunt while idle and post volumes whose reading scores at
  least BABEL_EXPEDITION_THRESHOLD to the stream `keys.EXPEDITIONS` (babel_core/worker.py); they
  go to the library's review channel (BABEL_REVIEW_CHANNEL). docs/hunting.md, "Expeditions".
- A report posts a notice to the stream `bot_keys.NOTICES` (bot/commands/runner.py) when its
  server has a review channel (`config set review-channel`); it goes there.

Bots read both streams through one consumer group each (`keys.REVIEWERS`), so each entry is
posted by one bot, once; an entry is acknowledged only after it was posted, so one that could
not be posted (Discord down, a missing permission) is tried again. The consumer is named after
the host, so a restarted bot takes up what it had read and not yet posted.
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

from .. import keys as bot_keys
from .. import reply as r
from ..commands.catalogue_replies import report_notice
from ..commands.memory import Memory
from ..commands.replies import NOTHING

log = logging.getLogger(__name__)

RETRY_S = 30.0  # after a failure to read the stream or to post, wait this long
Post = Callable[[int, r.Reply], Awaitable[None]]  # a channel id, and what to post there


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


STREAMS = (keys.EXPEDITIONS, bot_keys.NOTICES)


class Review:
    """The review channels' side: read finds and notices, draw them, post them, acknowledge
    them. `library_channel`: where expeditions' finds go (0: nowhere, they are dropped)."""

    def __init__(self, redis, library_channel: int = 0, consumer: str | None = None):
        self.redis = redis
        self.library_channel = library_channel
        self.consumer = consumer or socket.gethostname()
        self._groups_ready = False

    async def _ensure_groups(self) -> None:
        for stream in STREAMS:
            try:
                await self.redis.xgroup_create(stream, keys.REVIEWERS, id="0", mkstream=True)
            except redis.exceptions.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
        self._groups_ready = True

    async def forward_once(self, post: Post, block_ms: int | None = None) -> int:
        """Post the entries this consumer holds, then new ones (waiting up to block_ms for
        some); each is acknowledged once posted. Returns how many were posted."""
        if not self._groups_ready:
            await self._ensure_groups()
        posted = 0
        for start, block in (("0", None), (">", block_ms)):
            reply = await self.redis.xreadgroup(
                keys.REVIEWERS,
                self.consumer,
                dict.fromkeys(STREAMS, start),
                count=20,
                block=block,
            )
            for stream, entries in reply or []:
                stream = _text(stream)
                for entry, fields in entries:
                    if fields:  # an entry trimmed away while pending has none
                        channel, drawn = await self._draw(stream, fields)
                        if channel:
                            await post(channel, drawn)
                            posted += 1
                    await self.redis.xack(stream, keys.REVIEWERS, entry)
        return posted

    async def _draw(self, stream: str, fields: dict) -> tuple[int, r.Reply]:
        values = {_text(k): v for k, v in fields.items()}
        if stream == keys.EXPEDITIONS:
            return self.library_channel, await self.reply(json.loads(values["find"]))
        notice = json.loads(values["notice"])
        return int(notice.pop("channel")), report_notice(**notice)

    async def forward(self, post: Post) -> None:
        """Forward finds and notices until cancelled; failures are logged and retried."""
        while True:
            try:
                await self.forward_once(post, block_ms=5000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not forward to the review channels; retrying")
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


async def forward_to_review_channels(bot) -> None:
    """The bot's background task: post every find and notice in its review channel."""
    from .ui import message_kwargs

    await bot.wait_until_ready()

    async def post(channel_id: int, reply: r.Reply) -> None:
        channel = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
        await channel.send(**message_kwargs(reply, edit=False))

    await Review(bot.runner.redis, bot.settings.review_channel).forward(post)
