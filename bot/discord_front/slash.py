"""The `/shelf` slash commands, made from the command table (bot/commands/catalog/).

Each command class becomes one slash subcommand (`mod …` ones under `/shelf-mod`): its fields
become options, each typed, bounded, described and given choices or autocomplete by its kind
of argument (bot/commands/arguments.py: `Arg.slash`). Required options are declared required.
A slash command's options go to the parser as they are (`Parser.build`), never through text.
Every command whose answer is public also takes `private:True`, for an answer to its asker
alone. So a new command in the table is a new slash command, with nothing to write here.

discord.py reads a command's options from its callback's signature; the callbacks here are
made per command, so each gets a signature (`__signature__`) built from the command's fields,
and discord.py's own decorators add descriptions, choices and autocomplete.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from ..commands.arguments import Context, Slash
from ..commands.catalog import COMMANDS, GROUPS

Handler = Callable[[discord.Interaction, str, dict[str, Any]], Awaitable[None]]
PRIVATE = "private"  # every command that answers publicly also takes private:True
Completer = Callable[[discord.Interaction, str], Awaitable[list[app_commands.Choice]]]


def _annotation(slash: Slash) -> Any:
    if slash.type == "user":
        return discord.User
    if slash.type is bool or slash.choices:
        return slash.type
    low = slash.min if slash.min is not None else (0 if slash.type is str else None)
    return app_commands.Range[slash.type, low, slash.max]


def _command(name: str, ctx: Context, handle: Handler, complete: dict[str, Completer]):
    spec = COMMANDS[name].spec
    options = sorted(spec.options, key=lambda o: not o.required)  # Discord: required first
    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    described, choices, completers = {}, {}, {}
    for option in options:
        slash = option.kind.slash(ctx)
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if option.required else None,
                annotation=_annotation(slash),
            )
        )
        described[option.name] = option.description[:100]
        if slash.choices:
            choices[option.name] = [app_commands.Choice(name=c, value=c) for c in slash.choices]
        if slash.autocomplete:
            completers[option.name] = complete[slash.autocomplete]
    if not spec.private:  # a public answer may be asked for privately
        parameters.append(
            inspect.Parameter(
                PRIVATE, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=bool
            )
        )
        described[PRIVATE] = "answer me alone"

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await handle(interaction, name, values)

    callback.__signature__ = inspect.Signature(parameters)
    callback = app_commands.describe(**described)(callback)
    if choices:
        callback = app_commands.choices(**choices)(callback)
    if completers:
        callback = app_commands.autocomplete(**completers)(callback)
    return app_commands.Command(
        name=name.split()[-1], description=spec.summary[:100], callback=callback
    )


def shelf_groups(ctx: Context, handle: Handler, complete: dict[str, Completer]):
    """`/shelf` with every command, and `/shelf-mod`, `/shelf-config` with their groups'
    (catalog.slash_name); `handle(interaction, name, options)` answers."""
    groups = {"": app_commands.Group(name="shelf", description="The Model Library of Babel")}
    for word, summary in GROUPS.items():
        groups[word] = app_commands.Group(name=f"shelf-{word}", description=summary[:100])
    for name in COMMANDS:
        group, _, _ = name.rpartition(" ")
        groups[group].add_command(_command(name, ctx, handle, complete))
    return list(groups.values())
