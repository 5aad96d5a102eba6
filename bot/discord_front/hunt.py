"""`shelf hunt` on Discord: the slash subcommand, with the scorers as a choice list.

Kept out of the cog (bot/discord_front/cog.py) so that it stays thin: the cog's `hunt` subcommand
declares the options and calls `hunt` here. A prefix command (`!shelf hunt 64 Once upon a
time --score words`) is parsed by the command core from what was typed, as in the console; a
slash command's options are checked by the core one by one. Progress edits, the Cancel
button and the results' Read and Share buttons are the ones readings use (bot/discord_front/ui.py).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from babel_core.jobs import HUNT_TOP_CAP
from babel_core.scorers import SCORERS

SCORE_CHOICES = [app_commands.Choice(name=name, value=name) for name in SCORERS]


def options(command):
    """The slash options' descriptions and the scorers as a choice list."""
    command = app_commands.choices(score=SCORE_CHOICES)(command)
    return app_commands.describe(
        count="how many volumes to read (default and most depend on your role and the workers)",
        score="how readings are ranked (/shelf help explains the scorers)",
        top=f"how many of the best to show (1-{HUNT_TOP_CAP})",
        prompt="what to ask every volume (default: What is written in this book?)",
    )(command)


async def hunt(cog, ctx: commands.Context, count, score, top, prompt) -> None:
    """A prefix hunt is parsed from what was typed; a slash hunt from its options."""
    if ctx.interaction is None:
        await cog.answer(ctx, lambda: cog.core.parse(cog.bot.typed(ctx)))
    else:
        await cog.answer(ctx, lambda: cog.core.hunt_command(count, prompt, score, top))


async def read_stored(interaction: discord.Interaction, address: str, prompt_key: str) -> None:
    """The Read button under a hunt's result: read the volume with the hunt's prompt."""
    cog = interaction.client.get_cog("Shelf")

    async def build():
        prompt = await cog.core.state.prompt(prompt_key)
        return cog.core.command("read", address=address, prompt=prompt)

    await cog.answer_interaction(interaction, build)
