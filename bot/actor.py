"""Who is asking: the one value the runner and every catalogue service take for a person.

Each front end makes it once per command: the Discord front end from the member (`is_moderator`
when the person may moderate *this* guild: Manage Messages there, or the configured moderator
roles; `is_admin` with Manage Server there, for its settings; `is_owner` for the bot's owners,
settings.owner_ids, who moderate everywhere), the console for the person at the keyboard (an
owner: it is their library). Whether someone is a library moderator (a role the owners grant,
kept in Redis) the runner adds. The runner and the services never look at Discord permissions
themselves, so they are tested without Discord.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str
    guild_id: str = ""  # "" for the console and direct messages
    is_moderator: bool = False  # may moderate guild_id (what it shows, who it bans)
    is_owner: bool = False  # a bot owner: moderates the library, grants library moderators
    is_admin: bool = False  # may change guild_id's settings (Manage Server there)
    is_library_moderator: bool = False  # granted by the owners: the library, everywhere

    @property
    def moderates_library(self) -> bool:
        """May this person act on the library itself: hide or delete for every server, ban
        everywhere, moderate what was shared outside any server?"""
        return self.is_owner or self.is_library_moderator

    def moderates(self, guild_id: str) -> bool:
        """May this person see and act on what was shared in `guild_id` as its moderator
        (held and hidden items, the filter's reasons)? Library moderators, everywhere."""
        if self.moderates_library:
            return True
        return self.is_moderator and bool(guild_id) and guild_id == self.guild_id

    @property
    def may_moderate_here(self) -> bool:
        """May this person use the mod commands (queue, log, bans) where they are?"""
        return self.moderates_library or (self.is_moderator and bool(self.guild_id))
