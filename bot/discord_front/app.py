"""The Discord bot: the `ShelfBot` that carries the `Shelf` cog and the `/shelf` commands, and
`main` (`shelf bot`).

The bot owns what outlives one command: the connection to the library (opened in
`setup_hook`), the runner, the persistent buttons, the review-channel forwarder, and syncing
the slash commands. It is an `AutoShardedBot`: one process runs every shard Discord
recommends, or the shards BABEL_SHARD_IDS names out of BABEL_SHARD_COUNT, so several processes
can share one token without both receiving every event (docs/discord.md, "Sharding").
Intents: the default ones, plus Message Content only when typed commands are on
(BABEL_PREFIX="" turns them off, and the bot then asks for no privileged intent).
SIGTERM and SIGINT close the gateway and end the process with status 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import discord
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from babel_core.errors import LibraryError
from babel_core.settings import Settings

from ..commands.arguments import Context
from ..commands.runner import Runner
from .cog import ShelfCog
from .review import forward_to_review_channels
from .slash import shelf_groups
from .ui import ShelfButton

log = logging.getLogger(__name__)

SETTLE_S = 5.0  # on SIGTERM, wait this long for shares' verifications (compose allows 10 s)


class BotError(LibraryError):
    """The bot cannot start as configured (the message says what to fix)."""


class ShelfBot(commands.AutoShardedBot):
    """The bot. `sync`: publish the slash commands to every server (docs/discord.md)."""

    def __init__(self, settings: Settings, *, sync: bool = False):
        prefix = settings.command_prefix
        intents = discord.Intents.default()
        intents.message_content = bool(prefix)
        super().__init__(
            command_prefix=commands.when_mentioned_or(prefix)
            if prefix
            else commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            shard_count=settings.shard_count or None,
            shard_ids=[int(i) for i in settings.shard_ids] or None,
        )
        self.settings = settings
        self.sync = sync
        self.runner: Runner | None = None
        self._owned: tuple = ()  # (client, redis, target), closed with the bot
        self._review: asyncio.Task | None = None  # forwards finds and notices (review.py)

    @property
    def invocation(self) -> str:
        prefix = self.settings.command_prefix
        return f"{prefix}shelf " if prefix else "/shelf "

    async def setup_hook(self) -> None:
        from babel_core.client import LibraryClient
        from babel_core.redis_conn import connect

        if self.settings.discord_api:  # a proxy's (or a test's) gateway, even with set shards
            _, url, _ = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

        target = connect(self.settings)
        redis = target.asyncio()
        client = LibraryClient(redis, self.settings)
        self._owned = (client, redis, target)
        self.runner = Runner(self.settings, redis, client, invocation=self.invocation)
        cog = ShelfCog(self)
        await self.add_cog(cog)
        complete = {
            "addresses": cog.complete_addresses,
            "bookmarks": cog.complete_bookmarks,
            "discoveries": cog.complete_discoveries,
        }
        ctx = Context(self.settings, self.runner.edition, self.invocation)
        for group in shelf_groups(ctx, cog.slash, complete):
            self.tree.add_command(group)
        self.add_dynamic_items(ShelfButton)
        self._review = asyncio.create_task(forward_to_review_channels(self), name="review")
        await self._sync()

    async def _sync(self) -> None:
        """With BABEL_TEST_GUILD, copy the commands to that guild (they show at once there);
        with --sync, publish them to every server (up to an hour to show), clearing the test
        guild's copies so that they do not show twice there."""
        guild = discord.Object(self.settings.test_guild) if self.settings.test_guild else None
        if self.sync:
            if guild is not None:
                self.tree.clear_commands(guild=guild)
                await self.tree.sync(guild=guild)
            published = await self.tree.sync()
            log.info("published %d slash commands to every server", len(published))
        elif guild is not None:
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("slash commands synced to the test guild %s", guild.id)

    async def close(self) -> None:
        if self._review is not None:
            self._review.cancel()
        await super().close()
        if self.runner is not None:
            await self.runner.settle(SETTLE_S)
        if self._owned:
            client, redis, target = self._owned
            await client.close()
            await redis.aclose()
            target.close()

    async def on_command_error(self, ctx: commands.Context, error: Exception) -> None:
        """Errors discord.py raises around the typed command (the cog answers its own)."""
        if isinstance(error, commands.CommandNotFound):
            return  # someone else's command
        log.error("command %s failed", ctx.command, exc_info=error)


def point_at(api: str) -> None:
    """Send every REST and webhook call to `api` (BABEL_DISCORD_API: a proxy, or a test's fake
    Discord) instead of discord.com; the gateway's address comes from it too (setup_hook)."""
    from discord.webhook import async_

    base = api.rstrip("/") + "/api/v10"
    discord.http.Route.BASE = base
    async_.Route.BASE = base


def main(settings: Settings, sync: bool = False) -> int:
    """`shelf bot`: run until stopped. The token is read from the settings and never logged."""
    from babel_core import metrics

    if not settings.discord_token:
        raise BotError(
            "DISCORD_TOKEN is not set. Create a bot in the Discord developer portal "
            "(docs/discord.md), then: export DISCORD_TOKEN=<its token>"
        )
    if settings.discord_api:
        point_at(settings.discord_api)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    metrics.serve(settings)

    async def run() -> None:
        bot = ShelfBot(settings, sync=sync)
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, lambda: asyncio.ensure_future(bot.close()))
        async with bot:
            await bot.start(settings.discord_token)
        log.info("closed")

    try:
        asyncio.run(run())
    except discord.LoginFailure:
        raise BotError(
            "Discord rejected the token in DISCORD_TOKEN: copy it again from the Bot page of "
            "your application (docs/discord.md); a reset token replaces the old one"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise BotError(
            "Discord refused the Message Content intent, which typed commands need: turn it on "
            "in the developer portal (Bot > Privileged Gateway Intents), or set BABEL_PREFIX= "
            "(empty) to run with slash commands and mentions only"
        ) from None
    return 0
