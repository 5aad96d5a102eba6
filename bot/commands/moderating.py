"""The `mod …` commands answered: the runner (runner.py) hands every one of them here.

Who may do what is the catalogue's to decide (bot/catalogue/moderation.py and bans.py, and
docs/moderation.md): a server's moderators decide what their server shows and whom it bans;
library moderators decide for the library; the bot's owners name the library moderators.
Everything here is for the moderator alone: every reply is private.
"""

from __future__ import annotations

from .. import keys
from .. import reply as r
from ..actor import Actor
from ..catalogue.moderation_records import DELETE, HIDE, RESTORE, Item
from ..catalogue.services import Catalogue
from . import catalog as c
from . import catalogue_replies as cr


def _said(item: Item, everywhere: bool) -> str:
    if everywhere:
        return f"{item.ref} is now {item.status}, for every server."
    if item.hidden_here:
        return f"{item.ref} is hidden from this server; other servers still show it."
    return f"{item.ref} is {item.status} and shown here."


class Moderating:
    """The moderators' commands, over the catalogue's services."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    async def answer(self, command: c.Command, actor: Actor) -> r.Reply:
        cat = self.catalogue
        m = cat.moderation
        match command:
            case c.ModQueue(everywhere=everywhere, page=number):
                return cr.review_queue(command, await m.queue(actor, number, everywhere))
            case c.ModHide(item=item, everywhere=everywhere, reason=reason):
                done = await m.act(actor, HIDE, item, reason, everywhere)
                return r.note(_said(done, everywhere or not actor.guild_id))
            case c.ModRestore(item=item, everywhere=everywhere, reason=reason):
                done = await m.act(actor, RESTORE, item, reason, everywhere)
                return r.note(_said(done, everywhere or not actor.guild_id))
            case c.ModDelete(item=item, reason=reason):
                return r.note(_said(await m.act(actor, DELETE, item, reason), everywhere=True))
            case c.ModBan() | c.ModUnban():
                return await self._ban(command, actor)
            case c.ModLog(everywhere=everywhere, page=number):
                return cr.mod_log(command, await m.log(actor, number, everywhere))
            case c.ModBans():
                return cr.bans(await cat.bans.bans(actor))
            case c.ModGrant(person=person) | c.ModRevoke(person=person):
                granted = isinstance(command, c.ModGrant)
                user, name = await cat.person(person.user_id, person.name)
                changed = await cat.bans.grant(actor, user, name, granted)
                now = "is a library moderator" if granted else "is not a library moderator"
                return r.note(f"{name} {now}{'' if changed else ' already'}.")
        raise AssertionError(f"not a mod command: {command!r}")

    async def _ban(self, command: c.ModBan | c.ModUnban, actor: Actor) -> r.Reply:
        cat = self.catalogue
        verb = "ban" if isinstance(command, c.ModBan) else "unban"
        # before looking anyone up: a refusal costs no name lookup
        await cat.moderation.require_moderator(actor, verb, str(command.person))
        user, name = await cat.person(command.person.user_id, command.person.name)
        if isinstance(command, c.ModBan):
            where = await cat.bans.ban(actor, user, name, command.reason, command.everywhere)
        else:
            where = await cat.bans.unban(actor, user, name, command.everywhere)
        scope = "everywhere" if where == keys.BAN_EVERYWHERE else "in this server"
        return r.note(f"{name} {'is banned' if verb == 'ban' else 'is no longer banned'} {scope}.")
