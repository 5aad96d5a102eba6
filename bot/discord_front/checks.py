"""Who may do what, and where the bot answers, from Discord's own facts and the server's settings.

The channel allowlist (a server's `channels` setting, BABEL_CHANNELS by default): empty means
every channel the bot can see. Otherwise the bot answers only in the listed channels and in
threads whose parent is listed; typed commands elsewhere get no answer at all, slash commands a
private "not in this channel". Direct messages are answered unless the owners turned them off
(the runner refuses those).

Moderators of a server: Manage Messages there, or one of its moderator roles (the server's
`mod-roles` setting: role ids; BABEL_MOD_ROLE, a name or id, by default). Admins: Manage Server
there; they change the server's settings. Never in a direct message: the bot's owners act there.
"""

from __future__ import annotations

NOT_HERE = "The library does not answer in this channel; ask the server's moderators where it does."


def channel_allowed(allowed: tuple[str, ...], guild, channel) -> bool:
    """Whether a command from `channel` (in `guild`, None for a DM) may be answered."""
    if not allowed or guild is None or channel is None:
        return True
    ids = {str(channel.id)}
    parent = getattr(channel, "parent_id", None)
    if parent is not None:
        ids.add(str(parent))
    return not ids.isdisjoint(allowed)


def is_moderator(user, guild, roles: tuple[str, ...] = ()) -> bool:
    """May `user` moderate `guild`: Manage Messages there, or one of its moderator roles (ids,
    or names)."""
    if guild is None:
        return False
    permissions = getattr(user, "guild_permissions", None)
    if permissions is not None and permissions.manage_messages:
        return True
    return any(str(r.id) in roles or r.name in roles for r in getattr(user, "roles", ()))


def is_admin(user, guild) -> bool:
    """May `user` change `guild`'s settings: Manage Server (or Administrator) there."""
    permissions = getattr(user, "guild_permissions", None)
    return guild is not None and permissions is not None and permissions.manage_guild
