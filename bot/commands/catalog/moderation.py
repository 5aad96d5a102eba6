"""The moderators' and admins' commands: `mod …` and `config …`."""

from __future__ import annotations

from dataclasses import dataclass

from .. import arguments as a
from ..arguments import Person
from .table import ADMIN, Command, arg, command

MOD_REASON = "why (kept in the mod log)"


EVERYWHERE_ITEM = "library moderators: for every server, not only this one"


@command("mod queue", "What waits for this server's moderators.", "mod queue", private=True)
@dataclass(frozen=True)
class ModQueue(Command):
    everywhere: bool = arg(a.EVERYWHERE, "library moderators: the library's own queue", False)
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command(
    "mod hide", "Hide a discovery or bookmark from this server.", "mod hide D-12 spam", private=True
)
@dataclass(frozen=True)
class ModHide(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    everywhere: bool = arg(a.EVERYWHERE, EVERYWHERE_ITEM, False)
    reason: str = arg(a.REASON, MOD_REASON, "")


@command(
    "mod restore",
    "Show a hidden item here again; publish what this server's filter held.",
    "mod restore D-12",
    private=True,
)
@dataclass(frozen=True)
class ModRestore(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    everywhere: bool = arg(a.EVERYWHERE, EVERYWHERE_ITEM, False)
    reason: str = arg(a.REASON, MOD_REASON, "")


@command(
    "mod delete",
    "Library moderators: delete an item everywhere (restore brings it back).",
    "mod delete D-12 spam",
    private=True,
)
@dataclass(frozen=True)
class ModDelete(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    reason: str = arg(a.REASON, MOD_REASON, "")


@command(
    "mod ban",
    "Ban someone from the library's commands here (library moderators: everywhere).",
    "mod ban @someone spam",
    private=True,
)
@dataclass(frozen=True)
class ModBan(Command):
    person: Person = arg(a.PERSON, "whom to ban")
    everywhere: bool = arg(a.EVERYWHERE, "library moderators: in every server", False)
    reason: str = arg(a.REASON, MOD_REASON, "")


@command("mod unban", "Lift a ban.", "mod unban @someone", private=True)
@dataclass(frozen=True)
class ModUnban(Command):
    person: Person = arg(a.PERSON, "whom to unban")
    everywhere: bool = arg(a.EVERYWHERE, "library moderators: the ban in every server", False)


@command("mod log", "Every moderation action here, newest first.", "mod log", private=True)
@dataclass(frozen=True)
class ModLog(Command):
    everywhere: bool = arg(a.EVERYWHERE, "library moderators: the library's own log", False)
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command("mod bans", "Who is banned here.", "mod bans", private=True)
@dataclass(frozen=True)
class ModBans(Command):
    pass


@command(
    "mod grant",
    "The bot's owners: make someone a library moderator.",
    "mod grant @someone",
    private=True,
)
@dataclass(frozen=True)
class ModGrant(Command):
    person: Person = arg(a.PERSON, "who moderates the library from now on")


@command(
    "mod revoke",
    "The bot's owners: end someone's library moderation.",
    "mod revoke @someone",
    private=True,
)
@dataclass(frozen=True)
class ModRevoke(Command):
    person: Person = arg(a.PERSON, "who no longer moderates the library")


@command(
    "config show", "This server's settings, and what each one does.", "config show", private=True
)
@dataclass(frozen=True)
class ConfigShow(Command):
    pass


@command(
    "config set",
    "Change one of this server's settings (admins).",
    "config set cooldown 10",
    cost=ADMIN,
    private=True,
)
@dataclass(frozen=True)
class ConfigSet(Command):
    key: str = arg(a.SETTING, "which setting")
    value: str = arg(a.SETTING_VALUE, "its new value (config show says what each takes)")


@command(
    "config reset",
    "Give a setting back the bot's default (admins).",
    "config reset cooldown",
    cost=ADMIN,
    private=True,
)
@dataclass(frozen=True)
class ConfigReset(Command):
    key: str = arg(a.SETTING, "which setting")
