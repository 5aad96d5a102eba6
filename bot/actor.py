"""Who is asking: the one value the runner and every catalogue service take for a person.

Each front end makes it once per command: the Discord front end from the member (`is_moderator`
when the person may moderate *this* guild: Manage Messages there, or the configured moderator
roles; `is_admin` with Manage Server there, for its settings; `is_owner` for the bot's owners,
settings.owner_ids, who moderate everywhere), the console for the person at the keyboard (an
owner: it is their library). The runner and the services never look at Discord permissions
themselves, so they are tested without Discord.
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
    is_admin: bool = False  # may change guild_id's settings (Manage Server there)

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
