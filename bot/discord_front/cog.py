"""The `Shelf` cog: every way a person talks to the library on Discord, answered one way.

    !shelf read babel-w3-s2-v17 Once upon a time      (typed: needs the Message Content intent)
    @Babel shelf read babel-w3-s2-v17                  (a mention: no privileged intent)
    /shelf read address:babel-w3-s2-v17                (slash: no privileged intent)

A typed command is parsed from its text, a slash command from its options (slash.py), a
button from its custom id (ui.py), the prompt modal from its field; each becomes a command
value (bot/commands/catalog/) and an `Actor`, goes to the runner, and is answered by a
responder (respond.py) that keeps Discord's rules: acknowledged within 3 s, private replies
ephemeral or by DM, progress edits throttled, an expired token answered in the channel.
Every entry point catches its own errors: nothing a person does leaves a "thinking…" behind.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from .. import reply as r
from ..actor import Actor
from ..catalogue.bookmarks import SIGIL
from ..commands import arguments as a
from ..commands.arguments import CommandError, Person
from ..commands.catalog import COMMANDS, Command
from ..commands.runner import OOPS
from .checks import NOT_HERE, channel_allowed, is_admin, is_moderator
from .respond import EditThrottle, InteractionResponder, MessageResponder, Responder
from .slash import PRIVATE
from .ui import AskModal, for_asker

if TYPE_CHECKING:
    from .app import ShelfBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_S = 2.0  # an autocomplete that takes longer is answered with nothing


class ShelfCog(commands.Cog, name="Shelf"):
    """The typed `shelf` command, and the answers to slash commands, buttons and modals."""

    def __init__(self, bot: ShelfBot):
        self.bot = bot
        self.throttle = EditThrottle()

    @property
    def runner(self):
        return self.bot.runner

    async def place(self, user, guild, channel) -> tuple[Actor, bool]:
        """Who asks (a moderator or admin of this guild: checks.py; an owner:
        settings.owner_ids), and whether the library answers in this channel; both by the
        server's settings as they are now."""
        guild_id = str(guild.id) if guild is not None else ""
        try:
            server = await self.runner.servers.get(guild_id)
        except Exception:  # Redis away: the runner says so (help still answers)
            server = self.runner.servers.defaults
        actor = Actor(
            str(user.id),
            getattr(user, "display_name", None) or str(user),
            guild_id,
            is_moderator=is_moderator(user, guild, server.mod_roles),
            is_owner=str(user.id) in self.bot.settings.owner_ids,
            is_admin=is_admin(user, guild),
        )
        return actor, channel_allowed(server.channels, guild, channel)

    async def answer(
        self, responder: Responder, command: Command, actor: Actor, slash: bool = False
    ) -> None:
        """Run one command and show its progress and reply (a public one with a Delete
        button for its asker)."""
        reply = await self.runner.run(
            command, actor, responder.progress, admitted=responder.acknowledge, slash=slash
        )
        await responder.show(for_asker(reply, actor.user_id))

    # -- typed: !shelf …

    @commands.command(name="shelf")
    async def shelf(self, ctx: commands.Context, *, text: str = "") -> None:
        """The Model Library of Babel (!shelf help lists every command)."""
        actor, allowed = await self.place(ctx.author, ctx.guild, ctx.channel)
        if not allowed:
            return  # a channel the library does not answer in: typed commands get no answer
        responder = MessageResponder(ctx.message, self.throttle)
        try:
            command = self.runner.parser.parse(text)
        except CommandError as e:
            await responder.show(r.error(str(e)))
            return
        except Exception:
            log.exception("parsing %r failed", text)
            await responder.show(r.error(OOPS))
            return
        await self.answer(responder, command, actor)

    # -- slash: /shelf …

    async def slash(self, interaction: discord.Interaction, name: str, options: dict[str, Any]):
        """A slash command: its options become a command with no text in between."""
        spec = COMMANDS[name].spec
        asked_private = bool(options.pop(PRIVATE, None))
        responder = InteractionResponder(
            interaction, self.throttle, private=spec.private or asked_private, only=asked_private
        )
        try:
            actor, allowed = await self._place(interaction)
            if not allowed:
                await responder.show(r.error(NOT_HERE))
                return
            values = {k: _person(v) for k, v in options.items()}
            command = self.runner.parser.build(name, values)
        except CommandError as e:
            await responder.show(r.error(str(e)))
            return
        except Exception:
            log.exception("/shelf %s failed", name)
            await responder.show(r.error(OOPS))
            return
        await self.answer(responder, command, actor, True)

    # -- buttons and the modal

    async def click(self, interaction: discord.Interaction, button: r.Button) -> None:
        """A button under a reply: Cancel answers at once; the others run their command."""
        responder = InteractionResponder(interaction, self.throttle, private=True)
        try:
            actor, allowed = await self._place(interaction)
            if not allowed:
                await responder.show(r.error(NOT_HERE))
            elif button.action == r.CANCEL:
                await responder.show(await self.runner.cancel(button.job_id, button.owner, actor))
            elif button.action == r.DELETE:
                await self._delete(interaction, responder, button, actor)
            else:
                command = await self.runner.from_button(button, actor)
                await self.answer(responder, command, actor)
        except CommandError as e:
            await responder.show(r.error(str(e)))
        except Exception:
            log.exception("a %s button failed", button.action)
            await responder.show(r.error(OOPS))

    async def _delete(self, interaction, responder, button: r.Button, actor: Actor) -> None:
        """The Delete button: its asker, or a moderator here, takes the reply away."""
        if actor.user_id != button.owner and not actor.may_moderate_here:
            await responder.show(
                r.error("Only the person who asked (or a moderator) can delete this.")
            )
            return
        await responder.acknowledge()
        if interaction.message is not None:
            await interaction.message.delete()

    async def ask(self, interaction: discord.Interaction, button: r.Button) -> None:
        """ "Read with another prompt" and "Bookmark": a form asks for the prompt or name."""
        try:
            asked = a.PROMPT if button.action == r.AGAIN else a.BOOKMARK
            bounds = asked.slash(self.runner.parser.ctx)
            await interaction.response.send_modal(AskModal(button, bounds))
        except discord.HTTPException as e:
            log.warning("could not open a form (%s %s)", e.status, e.code)

    async def submit(self, interaction: discord.Interaction, button: r.Button, text: str):
        """The form's answer: a reading with that prompt, or a bookmark with that name."""
        responder = InteractionResponder(interaction, self.throttle, private=False)
        try:
            actor, _ = await self._place(interaction)
            if button.action == r.AGAIN:
                options = {"address": button.address, "prompt": text}
                command = self.runner.parser.build("read", options)
            else:
                options = {"name": text, "address": button.address}
                command = self.runner.parser.build("bookmark", options)
        except CommandError as e:
            await responder.show(r.error(str(e)))
            return
        await self.answer(responder, command, actor)

    async def _place(self, interaction: discord.Interaction) -> tuple[Actor, bool]:
        return await self.place(interaction.user, interaction.guild, interaction.channel)

    # -- autocomplete (must answer within 3 s, or not at all)

    async def complete_addresses(self, interaction: discord.Interaction, current: str):
        """The person's recently read addresses and their bookmarks that match what they typed."""

        async def found() -> list[str]:
            user = str(interaction.user.id)
            marks = await self._own_bookmarks(user)
            return [*await self.runner.memory.recent(user), *(SIGIL + m for m in marks)]

        return await self._complete(found, current)

    async def complete_bookmarks(self, interaction: discord.Interaction, current: str):
        return await self._complete(lambda: self._own_bookmarks(str(interaction.user.id)), current)

    async def complete_discoveries(self, interaction: discord.Interaction, current: str):
        """The newest published discoveries: `D-12 · title`."""

        async def found() -> list[tuple[str, str]]:
            discoveries = (await self.runner.catalogue.open()).discoveries
            return [
                (f"{d.ref} · {d.title or d.address}", d.ref) for d in await discoveries.newest()
            ]

        return await self._complete(found, current)

    async def _own_bookmarks(self, user_id: str) -> list[str]:
        bookmarks = (await self.runner.catalogue.open()).bookmarks
        return await bookmarks.names(user_id)

    async def _complete(self, source, current: str) -> list[app_commands.Choice[str]]:
        try:
            found = await asyncio.wait_for(source(), AUTOCOMPLETE_S)
        except Exception:
            log.warning("autocomplete unavailable", exc_info=True)
            return []
        typed = current.strip().lower()
        pairs = [(x, x) if isinstance(x, str) else x for x in found]
        matches = [(n, v) for n, v in pairs if typed in n.lower() and len(v) <= 100]
        return [app_commands.Choice(name=n[:100], value=v) for n, v in matches[:25]]


def _person(value: Any) -> Any:
    """A slash user option as the parser takes a person."""
    if isinstance(value, discord.abc.User):
        return Person(str(value.id), value.display_name)
    return value
