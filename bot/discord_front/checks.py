"""Real checks for the Discord commands (they refuse to run, not only hide a command).

The channel allowlist (BABEL_CHANNELS): empty means every channel the bot can see. Otherwise
the bot answers only in the listed channels and in threads whose parent is listed; a server
none of whose channels is listed gets no answers at all. Direct messages are always answered
(they disturb nobody). Channel ids are unique across Discord, so one list serves every server.
"""

from __future__ import annotations

from discord.ext import commands

NOT_HERE = "The library does not answer in this channel; ask the server's moderators where it does."


class ChannelNotAllowed(commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(NOT_HERE)


def channel_allowed(allowed: tuple[str, ...], guild, channel) -> bool:
    """Whether a command from `channel` (in `guild`, None for a DM) may be answered."""
    if not allowed or guild is None or channel is None:
        return True
    ids = {str(channel.id)}
    parent = getattr(channel, "parent_id", None)
    if parent is not None:
        ids.add(str(parent))
    return not ids.isdisjoint(allowed)


def in_allowed_channel(ctx: commands.Context) -> bool:
    """The allowlist as a check (the cog's `cog_check`); raises ChannelNotAllowed."""
    if not channel_allowed(ctx.bot.settings.allowed_channels, ctx.guild, ctx.channel):
        raise ChannelNotAllowed()
    return True


def is_moderator(user, guild, role: str = "") -> bool:
    """May `user` moderate `guild`: Manage Messages there, or the moderator role (BABEL_MOD_ROLE,
    a role name or id). Never in a direct message (the bot's owners moderate those)."""
    if guild is None:
        return False
    permissions = getattr(user, "guild_permissions", None)
    if permissions is not None and permissions.manage_messages:
        return True
    return bool(role) and any(role in (str(r.id), r.name) for r in getattr(user, "roles", ()))
