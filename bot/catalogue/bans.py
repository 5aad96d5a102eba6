"""Who may use the library, and who moderates it: bans, and the library moderators.

- A server's moderators ban someone from the library's commands in that server; library
  moderators (and the bot's owners) ban everywhere. A banned person is told, privately, who
  banned them, when, why, and whom to write to; the owners cannot be banned.
- Library moderators are named by the bot's owners (`mod grant`, `mod revoke`): they act on
  the library itself (docs/moderation.md). `admit` tells the runner, with the ban check, whether
  the person is one, so every other check reads it from the `Actor`.

Each change is one Lua script with its mod-log entry (moderation_scripts.ROSTER_LUA), durable
before the moderator is told.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime

from babel_core.errors import LibraryError

from .. import keys
from ..actor import Actor
from .durable import text
from .moderation import LIBRARY, LOG_KEPT, ModerationBase, ModerationError, reason_of
from .moderation_records import BAN, BANS, GRANT, REVOKE, UNBAN
from .moderation_scripts import ROSTER_LUA

log = logging.getLogger(__name__)


class Banned(LibraryError, PermissionError):
    """A banned person's command, refused politely."""


class Bans(ModerationBase):
    """Bans and library moderators on one Redis."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._roster = self.redis.register_script(ROSTER_LUA)

    async def admit(self, actor: Actor) -> Actor:
        """The actor, with whether they moderate the library; a banned person is refused
        (Banned). One round trip, before every command."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.bans(keys.BAN_EVERYWHERE), actor.user_id)
        pipe.hget(keys.bans(actor.guild_id), actor.user_id)
        pipe.hexists(keys.LIBRARY_MODERATORS, actor.user_id)
        everywhere, here, granted = await pipe.execute()
        if (everywhere or here) and not actor.is_owner:
            ban = json.loads(text(everywhere or here))
            day = datetime.fromtimestamp(ban["at"], UTC).strftime("%Y-%m-%d")
            who = "the library's moderators" if everywhere else "this server's moderators"
            why = f" (reason: {ban['reason']})" if ban.get("reason") else ""
            raise Banned(
                f"sorry, you can't use the library's commands here: {who} banned you on "
                f"{day}{why}. To appeal, write to {who}."
            )
        return dataclasses.replace(actor, is_library_moderator=bool(granted))

    async def ban(
        self, actor: Actor, user_id: str, name: str, reason: str = "", everywhere: bool = False
    ) -> str:
        """Ban a person from the library's commands in this server (library moderators:
        everywhere); returns where: the guild id or keys.BAN_EVERYWHERE."""
        reason = reason_of(reason)
        where = await self._ban_scope(actor, BAN, user_id, everywhere)
        if user_id == actor.user_id:
            raise ModerationError("you can't ban yourself")
        if user_id in self.owner_ids:
            raise ModerationError("the bot's owners can't be banned")
        record = {"by": actor.user_id, "by_name": actor.name, "reason": reason, "name": name}
        scope = LIBRARY if where == keys.BAN_EVERYWHERE else where
        await self._change(actor, keys.bans(where), BAN, user_id, name, reason, scope, record)
        log.info("%s banned %s in %s", actor.user_id, user_id, where)
        return where

    async def unban(self, actor: Actor, user_id: str, name: str, everywhere: bool = False) -> str:
        where = await self._ban_scope(actor, UNBAN, user_id, everywhere)
        scope = LIBRARY if where == keys.BAN_EVERYWHERE else where
        if not await self._change(actor, keys.bans(where), UNBAN, user_id, name, "", scope):
            raise ModerationError(f"{name} is not banned {'everywhere' if everywhere else 'here'}")
        return where

    async def bans(self, actor: Actor) -> list[tuple[str, dict]]:
        """This server's bans (and, for library moderators, those everywhere): (user id,
        ban record)."""
        if not actor.may_moderate_here:
            await self.refuse(actor, BANS)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.bans(actor.guild_id))
        pipe.hgetall(keys.bans(keys.BAN_EVERYWHERE))
        here, everywhere = await pipe.execute()
        found = [(text(u), {**json.loads(text(b)), "where": "here"}) for u, b in here.items()]
        if actor.moderates_library:
            found += [
                (text(u), {**json.loads(text(b)), "where": "everywhere"})
                for u, b in everywhere.items()
            ]
        return sorted(found, key=lambda ub: ub[1]["at"])

    async def grant(self, actor: Actor, user_id: str, name: str, granted: bool = True) -> bool:
        """Make someone a library moderator (granted False: no longer one); the bot's owners
        only. Returns whether anything changed."""
        action = GRANT if granted else REVOKE
        if not actor.is_owner:
            await self.refuse(actor, action, name, owners=True)
        record = {"by": actor.user_id, "by_name": actor.name, "name": name} if granted else None
        roster = keys.LIBRARY_MODERATORS
        return await self._change(actor, roster, action, user_id, name, "", LIBRARY, record)

    async def _change(
        self,
        actor: Actor,
        roster: str,
        action: str,
        user_id: str,
        name: str,
        reason: str,
        scope: str,
        record: dict | None = None,
    ) -> bool:
        """Put someone on a roster (record None: take them off), logged where it holds: a
        server's log, or the library's (scope LIBRARY)."""
        where = "everywhere" if scope == LIBRARY else "here"
        entry = self.entry(actor, action, f"{name} ({user_id})", reason, where)
        stored = "" if record is None else json.dumps({**record, "at": entry["at"]})
        changed = await self.durable.run(
            self.redis,
            self._roster,
            [roster, keys.mod_log(scope)],
            [user_id, stored, json.dumps(entry), LOG_KEPT],
        )
        return bool(changed)

    async def _ban_scope(self, actor: Actor, action: str, user_id: str, everywhere: bool) -> str:
        """Where a ban holds: the actor's server, or everywhere (library moderators only; one
        outside any server always bans everywhere). Refuses, logged, whoever may not."""
        if actor.moderates_library and (everywhere or not actor.guild_id):
            return keys.BAN_EVERYWHERE
        if everywhere:
            await self.refuse(actor, f"{action} everywhere", user_id, library=True)
        if not actor.may_moderate_here:
            await self.refuse(actor, action, user_id)
        return actor.guild_id
