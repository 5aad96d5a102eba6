"""The `shelf` cog: one hybrid group over the command core.

    !shelf read babel-w3-s2-v17 Once upon a time      (prefix: needs the Message Content intent)
    @Babel shelf read babel-w3-s2-v17                  (a mention: no privileged intent)
    /shelf read address:babel-w3-s2-v17                (slash: no privileged intent)

The cog is thin: it turns Discord's objects into a `Requester` and a checked `Command`,
acknowledges at once, shows the queue position (edits throttled per channel) and the reply,
all drawn by bot/discord_front/ui.py. Everything else is the command core (bot/commands.py). It is
kept apart from the bot that carries it (bot/discord_front/app.py: start-up, error answers, `main`)
so that each stays small. Every subcommand lives here: discord.py binds a group's subcommands
to the cog that defines the group, so `shelf` cannot be spread over several cogs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from babel_core.jobs import HUNT_TOP_CAP
from babel_core.page import PAGES

from .. import reply as r
from ..catalogue_parse import MOD as MOD_ACTIONS
from ..catalogue_parse import Ask
from ..command_parse import QUEUED, Command, CommandError
from ..commands import Requester, Shelf
from . import hunt as discord_hunt
from .checks import NOT_HERE, channel_allowed, in_allowed_channel, is_moderator
from .ui import PRIVATE_SECONDS, Conversation, message_kwargs

if TYPE_CHECKING:
    from .app import ShelfBot

log = logging.getLogger(__name__)


def requester(user, guild, channel, mod_role: str = "") -> Requester:
    """Who asks, as the command core knows people (is_moderator: checks.py decides)."""
    return Requester(
        str(user.id),
        str(user),
        str(guild.id) if guild is not None else "",
        str(channel.id) if channel is not None else "",
        is_moderator=is_moderator(user, guild, mod_role),
    )


async def say(ctx: commands.Context, reply: r.Reply) -> None:
    """Answer the author alone (the cog's refusals and the bot's error answers)."""
    await private_send(ctx)(**message_kwargs(reply, edit=False))


def private_send(ctx: commands.Context):
    """How a reply meant for its author alone is sent: ephemeral while a slash command is not
    yet acknowledged; otherwise (prefix commands, after a public defer) deleted after a while."""
    if ctx.interaction is not None and not ctx.interaction.response.is_done():
        return partial(ctx.send, ephemeral=True)
    return partial(ctx.send, delete_after=PRIVATE_SECONDS)


class ShelfCog(commands.Cog, name="Shelf"):
    """The `shelf` commands and the buttons' callbacks."""

    def __init__(self, bot: ShelfBot):
        self.bot = bot

    @property
    def core(self) -> Shelf:
        return self.bot.core

    async def cog_check(self, ctx: commands.Context) -> bool:
        return in_allowed_channel(ctx)

    # -- answering

    async def answer(self, ctx: commands.Context, build: Callable[[], Command]) -> None:
        """Check the command, acknowledge it, run it, show its progress and reply."""
        try:
            command = build()
        except CommandError as e:
            await say(ctx, r.error(str(e), private=True))
            return
        if command.name in QUEUED:
            await ctx.defer()
        talk = Conversation(ctx.send, ctx.channel.id, self.bot.throttle, private_send(ctx))
        await self._run(
            talk,
            command,
            requester(ctx.author, ctx.guild, ctx.channel, self.bot.settings.moderator_role),
        )

    async def answer_interaction(
        self, interaction: discord.Interaction, build: Callable[[], Awaitable[Command]]
    ) -> None:
        """The same for buttons and modals: acknowledge within 3 s, then answer in a followup."""
        if not channel_allowed(
            self.bot.settings.allowed_channels, interaction.guild, interaction.channel
        ):
            kwargs = message_kwargs(r.error(NOT_HERE, private=True), edit=False)
            await interaction.response.send_message(**kwargs, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        send = partial(interaction.followup.send, wait=True)

        async def send_private(**kwargs) -> discord.Message:
            message = await send(**kwargs)
            await message.delete(delay=PRIVATE_SECONDS)
            return message

        talk = Conversation(send, interaction.channel_id, self.bot.throttle, send_private)
        who = requester(
            interaction.user,
            interaction.guild,
            interaction.channel,
            self.bot.settings.moderator_role,
        )
        try:
            command = await build()
        except CommandError as e:
            await talk.show(r.error(str(e)))
            return
        await self._run(talk, command, who)

    async def _run(self, talk: Conversation, command: Command, who: Requester) -> None:
        async def progress(waiting) -> None:
            await talk.progress(self.core.progress_reply(waiting))

        await talk.show(await self.core.run(command, who, progress))

    # -- buttons and the modal

    async def navigate(self, interaction, direction: str, address: str, prompt_key: str) -> None:
        await self.answer_interaction(
            interaction, lambda: self.core.step(direction, address, prompt_key)
        )

    async def read_again(self, interaction, address: str, prompt: str) -> None:
        try:
            command = self.core.command("read", address=address, prompt=prompt)
        except CommandError as e:
            kwargs = message_kwargs(r.error(str(e), private=True), edit=False)
            await interaction.response.send_message(**kwargs, ephemeral=True)
            return

        async def build() -> Command:
            return command

        await self.answer_interaction(interaction, build)

    async def run_typed(self, interaction, text: str) -> None:
        """A catalogue button (vote, more pages, share): the command it carries, as typed."""

        async def build() -> Command:
            return self.core.parse(text)

        await self.answer_interaction(interaction, build)

    async def share_reading(self, interaction, address: str, prompt_key: str) -> None:
        """The Share button under a reading."""

        async def build() -> Command:
            prompt = await self.core.state.prompt(prompt_key)
            return Command("share", ask=Ask("share", target=address, text=prompt))

        await self.answer_interaction(interaction, build)

    async def cancel(self, interaction, job_id: str, owner: str) -> None:
        who = requester(
            interaction.user,
            interaction.guild,
            interaction.channel,
            self.bot.settings.moderator_role,
        )
        reply = await self.core.cancel(job_id, owner, who)
        await interaction.response.send_message(**message_kwargs(reply, edit=False), ephemeral=True)

    # -- the commands

    @commands.hybrid_group(name="shelf", fallback="help", invoke_without_command=True)
    async def shelf(self, ctx: commands.Context) -> None:
        """The Model Library of Babel: every command, with an example."""
        text = ""
        if ctx.interaction is None:  # `!shelf`, `!shelf help`, `!shelf raed …`
            text = self.bot.typed(ctx)
        await self.answer(ctx, lambda: self.core.parse(text))

    @shelf.command(name="read")
    @app_commands.describe(
        address="the volume's address, e.g. babel-w3-s2-v17",
        prompt="what to ask it (default: What is written in this book?)",
    )
    async def read(self, ctx: commands.Context, address: str, *, prompt: str | None = None):
        """Read the volume at an address."""
        await self.answer(ctx, lambda: self.core.command("read", address=address, prompt=prompt))

    @read.autocomplete("address")
    async def recent_addresses(self, interaction: discord.Interaction, current: str):
        """The person's recently read addresses that contain what they typed."""
        try:
            recent = await self.core.state.recent(str(interaction.user.id))
        except Exception:  # autocomplete must answer quickly or not at all
            log.warning("autocomplete: recent addresses unavailable", exc_info=True)
            recent = []
        typed = current.strip().lower()
        found = [a for a in recent if typed in a and len(a) <= 100]
        return [app_commands.Choice(name=a, value=a) for a in found[:25]]

    @shelf.command(name="random")
    @app_commands.describe(prompt="what to ask it (default: What is written in this book?)")
    async def random(self, ctx: commands.Context, *, prompt: str | None = None):
        """Read a volume drawn at random from the near wing."""
        await self.answer(ctx, lambda: self.core.command("random", prompt=prompt))

    @shelf.command(name="next")
    @app_commands.describe(prompt="a new prompt (default: the one you used last)")
    async def next_volume(self, ctx: commands.Context, *, prompt: str | None = None):
        """Read the volume after the last one you read."""
        await self.answer(ctx, lambda: self.core.command("next", prompt=prompt))

    @shelf.command(name="prev")
    @app_commands.describe(prompt="a new prompt (default: the one you used last)")
    async def prev_volume(self, ctx: commands.Context, *, prompt: str | None = None):
        """Read the volume before the last one you read."""
        await self.answer(ctx, lambda: self.core.command("prev", prompt=prompt))

    @shelf.command(name="page")
    @app_commands.describe(
        address="the volume's address, e.g. babel-w3-s2-v17", n=f"which page, 1 to {PAGES}"
    )
    async def page(self, ctx: commands.Context, address: str, n: app_commands.Range[int, 1, PAGES]):
        """See one of a volume's 410 pages: a picture of its weights."""
        await self.answer(ctx, lambda: self.core.command("page", address=address, page=n))

    page.autocomplete("address")(recent_addresses)

    @shelf.command(name="hunt")
    @discord_hunt.options
    async def hunt(
        self,
        ctx: commands.Context,
        count: app_commands.Range[int, 1, 1_000_000] | None = None,
        score: str | None = None,
        top: app_commands.Range[int, 1, HUNT_TOP_CAP] | None = None,
        *,
        prompt: str | None = None,
    ):
        """Read many random volumes at once and show the most promising."""
        await discord_hunt.hunt(self, ctx, count, score, top, prompt)

    # -- the catalogue (bot/catalogue_answers.py): slash options become the text a prefix
    # command types

    async def typed(self, ctx: commands.Context, name: str, *parts) -> None:
        """Prefix commands: the core parses what was typed (as in the console); slash
        commands: the options, joined in the typed order."""
        if ctx.interaction is None:
            words = ctx.message.content[len(ctx.prefix or "") :].strip().split(maxsplit=1)
            text = words[1] if len(words) > 1 else name
        else:
            text = " ".join([name, *(str(p) for p in parts if p not in (None, "", False))])
        await self.answer(ctx, lambda: self.core.parse(text))

    @shelf.command(name="share")
    @app_commands.describe(
        address="the volume (default: the last one you read)", prompt="its prompt", title="a title"
    )
    async def share(self, ctx, address: str = "", prompt: str = "", *, title: str = ""):
        """Share a volume you found with everyone."""
        await self.typed(ctx, "share", address, prompt, f"| {title}" if title else "")

    @shelf.command(name="discoveries")
    @app_commands.describe(view="top, new or mine", person="someone's discoveries", page="page")
    async def discoveries(
        self, ctx, view: str = "", person: discord.User | None = None, page: int = 0
    ):
        """Browse what people found."""
        await self.typed(ctx, "discoveries", person.mention if person else view, page)

    @shelf.command(name="show")
    @app_commands.describe(id="a discovery, e.g. D-12")
    async def show(self, ctx, id: str = ""):
        """One discovery: its reading, finder and votes."""
        await self.typed(ctx, "show", id)

    @shelf.command(name="vote")
    @app_commands.describe(id="a discovery, e.g. D-12")
    async def vote(self, ctx, id: str = ""):
        """Vote for a discovery."""
        await self.typed(ctx, "vote", id)

    @shelf.command(name="unvote")
    @app_commands.describe(id="a discovery, e.g. D-12")
    async def unvote(self, ctx, id: str = ""):
        """Take back your vote."""
        await self.typed(ctx, "unvote", id)

    @shelf.command(name="leaders")
    async def leaders(self, ctx, page: int = 0):
        """The finders with the most votes."""
        await self.typed(ctx, "leaders", page)

    @shelf.command(name="report")
    @app_commands.describe(target="D-12 or @bookmark", reason="what is wrong with it")
    async def report(self, ctx, target: str = "", *, reason: str = ""):
        """Tell this server's moderators about a discovery or bookmark."""
        await self.typed(ctx, "report", target, reason)

    @shelf.command(name="bookmark")
    @app_commands.describe(name="2-32 of a-z 0-9 -", address="the volume's address")
    async def bookmark(self, ctx, name: str = "", address: str = ""):
        """Name a volume: @name then works wherever an address does."""
        await self.typed(ctx, "bookmark", name, address)

    @shelf.command(name="bookmarks")
    async def bookmarks(self, ctx, person: discord.User | None = None, page: int = 0):
        """Your bookmarks, or someone's."""
        await self.typed(ctx, "bookmarks", person.mention if person else "", page)

    @shelf.command(name="unbookmark")
    async def unbookmark(self, ctx, name: str = ""):
        """Remove one of your bookmarks."""
        await self.typed(ctx, "unbookmark", name)

    @shelf.command(name="mod")
    @app_commands.describe(
        action="queue, hide, restore, delete, ban, unban, log or bans",
        target="D-12, @bookmark or a page number",
        person="whom to ban or unban",
        everywhere="bot owners: ban everywhere",
        reason="why (kept in the mod log)",
    )
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in MOD_ACTIONS])
    async def mod(
        self,
        ctx,
        action: str = "",
        target: str = "",
        person: discord.User | None = None,
        everywhere: bool = False,
        *,
        reason: str = "",
    ):
        """For moderators: the review queue, hide, restore, delete, bans and the log."""
        who = person.mention if person else target
        await self.typed(ctx, "mod", action, who, everywhere and "everywhere", reason)

    @shelf.command(name="about")
    async def about(self, ctx: commands.Context):
        """How big the library is and how its addresses work."""
        await self.answer(ctx, lambda: self.core.command("about"))
