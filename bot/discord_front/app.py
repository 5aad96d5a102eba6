"""The Discord bot: the `commands.Bot` that carries the `shelf` cog, and `main` (`shelf bot`).

The bot owns what outlives one command: the connection to the library (opened in
`setup_hook` unless a test passes a ready core), the persistent buttons, the review-channel
forwarder, slash-command sync, and the one place command errors are answered. The commands
themselves are the cog's (bot/discord_front/cog.py). BABEL_PREFIX="" turns prefix commands off, and
the bot then asks for no privileged intent. docs/discord.md tells how to create, invite and
configure it.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from babel_core.errors import LibraryError
from babel_core.settings import Settings

from .. import reply as r
from ..command_parse import CommandError
from ..commands import Shelf
from .checks import NOT_HERE, ChannelNotAllowed
from .cog import ShelfCog, say
from .expeditions import forward_to_review_channel
from .ui import (
    AgainButton,
    CancelButton,
    EditThrottle,
    MoreButton,
    NavButton,
    ReadButton,
    ShareButton,
    VoteButton,
    message_kwargs,
)

log = logging.getLogger(__name__)

OOPS = "Something went wrong on the bot's side; it has been logged. Please try again."


class BotError(LibraryError):
    """The bot cannot start as configured (the message says what to fix)."""


class ShelfBot(commands.Bot):
    """The bot. Pass `core` to use a ready command core (tests); otherwise setup_hook makes one
    on the Redis the settings name."""

    def __init__(self, settings: Settings, *, core: Shelf | None = None, sync: bool = False):
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
        )
        self.settings = settings
        self.core = core
        self.sync = sync
        self.throttle = EditThrottle()
        self._owned: tuple = ()  # (client, redis, target) when setup_hook opened them
        self._review: asyncio.Task | None = None  # forwards expeditions' finds (review channel)

    @property
    def invocation(self) -> str:
        prefix = self.settings.command_prefix
        return f"{prefix}shelf " if prefix else "/shelf "

    async def setup_hook(self) -> None:
        if self.core is None:
            from babel_core.client import LibraryClient
            from babel_core.redis_conn import connect

            target = connect(self.settings)
            redis = target.asyncio()
            client = LibraryClient(redis, self.settings)
            self.core = Shelf(self.settings, redis, client, invocation=self.invocation)
            self._owned = (client, redis, target)
        await self.add_cog(ShelfCog(self))
        self.add_dynamic_items(
            NavButton, AgainButton, CancelButton, VoteButton, MoreButton, ShareButton, ReadButton
        )
        self.tree.on_error = self.on_app_command_error
        if self.settings.review_channel:
            self._review = asyncio.create_task(forward_to_review_channel(self), name="review")
        if self.settings.test_guild:
            guild = discord.Object(self.settings.test_guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        elif self.sync:
            await self.tree.sync()

    async def close(self) -> None:
        if self._review is not None:
            self._review.cancel()
        await super().close()
        if self._owned:
            client, redis, target = self._owned
            await client.close()
            await redis.aclose()
            target.close()

    async def on_command_error(self, ctx: commands.Context, error: Exception) -> None:
        """The one place errors of commands are answered; unexpected ones are logged."""
        if isinstance(error, commands.CommandNotFound):
            return  # someone else's command
        if isinstance(error, ChannelNotAllowed):
            if ctx.interaction is not None:  # a prefix command there gets no answer at all
                await say(ctx, r.error(NOT_HERE, private=True))
            return
        if isinstance(error, commands.UserInputError):
            await say(ctx, r.error(self._typed_error(ctx, error), private=True))
            return
        log.error("command %s failed", ctx.command, exc_info=error)
        await say(ctx, r.error(OOPS, private=True))

    def _typed_error(self, ctx: commands.Context, error: Exception) -> str:
        """The core's message for what was typed (the same words the console would say)."""
        try:
            self.core.parse(self.typed(ctx))
        except CommandError as e:
            return str(e)
        return str(error)

    @staticmethod
    def typed(ctx: commands.Context) -> str:
        """What follows `shelf` in a prefix command's message."""
        words = ctx.message.content[len(ctx.prefix or "") :].strip().split(maxsplit=1)
        return words[1] if len(words) > 1 else ""

    async def on_app_command_error(self, interaction: discord.Interaction, error) -> None:
        """Errors a slash command raises before the hybrid command runs (its checks)."""
        if isinstance(error, ChannelNotAllowed):
            kwargs = message_kwargs(r.error(NOT_HERE, private=True), edit=False)
            await interaction.response.send_message(**kwargs, ephemeral=True)
            return
        log.error("slash command %s failed", interaction.command, exc_info=error)


def main(settings: Settings, sync: bool = False) -> int:
    """`shelf bot`: run until stopped. The token is read from the settings and never logged."""
    from babel_core import metrics

    if not settings.discord_token:
        raise BotError(
            "DISCORD_TOKEN is not set. Create a bot in the Discord developer portal "
            "(docs/discord.md), then: export DISCORD_TOKEN=<its token>"
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    metrics.serve(settings)
    bot = ShelfBot(settings, sync=sync)

    async def run() -> None:
        async with bot:
            await bot.start(settings.discord_token)

    try:
        asyncio.run(run())
    except discord.LoginFailure:
        raise BotError(
            "Discord rejected the token in DISCORD_TOKEN: copy it again from the Bot page of "
            "your application (docs/discord.md); a reset token replaces the old one"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise BotError(
            "Discord refused the Message Content intent, which prefix commands need: turn it on "
            "in the developer portal (Bot > Privileged Gateway Intents), or set BABEL_PREFIX= "
            "(empty) to run with slash commands and mentions only"
        ) from None
    except KeyboardInterrupt:
        return 130
    return 0
