"""Who is asking: the one value every catalogue service takes instead of a Discord object.

The adapter (Discord cog or console) computes it once per command: `is_moderator` is true when
the person may moderate *this* guild (Manage Messages there, or the configured moderator role),
`is_owner` when they are one of the bot's owners (settings.owner_ids), who moderate everywhere.
The services never look at Discord permissions themselves, so they are tested without Discord.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str
    guild_id: str = ""  # "" for the console and direct messages
    is_moderator: bool = False  # may moderate guild_id
    is_owner: bool = False  # a bot owner: moderates every guild

    def moderates(self, guild_id: str) -> bool:
        """May this person moderate what was shared in `guild_id`?

        Moderators act on their own guild's items only; items shared outside any guild (the
        console, direct messages) are moderated by the bot's owners alone.
        """
        if self.is_owner:
            return True
        return self.is_moderator and bool(guild_id) and guild_id == self.guild_id

    @property
    def may_moderate_here(self) -> bool:
        """May this person use the mod commands (queue, log, ban) where they are?"""
        return self.is_owner or (self.is_moderator and bool(self.guild_id))
