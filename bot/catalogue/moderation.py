"""Moderation: reports, the review queue, hide/restore/delete, bans and the mod log.

Who may do what (docs/moderation.md):
- anyone who is not banned may `report` a published discovery (`D-5`) or bookmark (`@name`)
  that is not their own, once each, with a reason;
- the moderators of a guild (Manage Messages there, or the configured moderator role) act on
  what was shared in that guild: `queue`, `hide`, `restore`, `delete` (soft: restorable),
  `ban`/`unban` in the guild, `log`, `bans`; the bot's owners act everywhere and may ban
  everywhere at once. Items shared outside any guild are moderated by the owners only.

Every action and every refused attempt is appended to the guild's mod log with who and when;
the log keeps the latest LOG_KEPT entries. A refused attempt is written without waiting for the
disk (it records no change), so someone trying `mod` commands costs the store no fsyncs.
Each action is one Lua script (moderation_scripts.py): the status change, the discovery
indexes, closing the item's open reports, leaving the queue and the log entry happen together
or not at all, and are durable before the moderator is told. The items, reports and log
entries themselves are in moderation_records.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from babel_core.errors import LibraryError

from .. import keys
from ..actor import Actor
from .bookmarks import SIGIL, parse_name
from .discovery_records import DELETED, HIDDEN, PUBLISHED, REF, Page, page_bounds, parse_id
from .discovery_scripts import INDEX_KEYS
from .durable import Durability, text
from .moderation_records import (
    BAN,
    BANS,
    BOOKMARK,
    DELETE,
    DISCOVERY,
    HIDE,
    LOG,
    QUEUE,
    REFUSED,
    RESTORE,
    UNBAN,
    Item,
    LogEntry,
    QueueEntry,
    Report,
)
from .moderation_scripts import ACT_LUA, BAN_LUA, REPORT_LUA

log = logging.getLogger(__name__)

PAGE_SIZE = 10
MAX_REASON = 200
LOG_KEPT = 10_000  # entries of a guild's mod log kept (the oldest go first)
LABEL_CHARS = 80  # of a title or reading, in the queue
_TO = {HIDE: HIDDEN, RESTORE: PUBLISHED, DELETE: DELETED}


class ModerationError(LibraryError, ValueError):
    """A report or moderation request that cannot be served as asked."""


class NotModerator(ModerationError, PermissionError):
    """Someone without the right tried a moderator's command (the attempt is logged)."""


class Banned(LibraryError, PermissionError):
    """A banned person's command, refused politely."""


def _reason(reason: str, required: bool = False) -> str:
    reason = " ".join(reason.split())
    if required and not reason:
        raise ModerationError("say why: report D-5 <reason>")
    if len(reason) > MAX_REASON:
        raise ModerationError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}")
    return reason


class Moderation:
    def __init__(
        self,
        redis,
        durable: Durability,
        owner_ids: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ):
        self.redis = redis
        self.durable = durable
        self.owner_ids = frozenset(owner_ids)
        self.clock = clock
        self._act = redis.register_script(ACT_LUA)
        self._report = redis.register_script(REPORT_LUA)
        self._ban = redis.register_script(BAN_LUA)

    # -- everyone

    async def check(self, actor: Actor) -> None:
        """Refuse a banned person's command politely (call before every command)."""
        if actor.is_owner:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.bans(keys.BAN_EVERYWHERE), actor.user_id)
        pipe.hget(keys.bans(actor.guild_id), actor.user_id)
        everywhere, here = await pipe.execute()
        if everywhere or here:
            ban = json.loads(text(everywhere or here))
            day = datetime.fromtimestamp(ban["at"], UTC).strftime("%Y-%m-%d")
            who = "the bot's owners" if everywhere else "this server's moderators"
            why = f" (reason: {ban['reason']})" if ban.get("reason") else ""
            raise Banned(
                f"sorry, you can't use the library's commands here: {who} banned you on "
                f"{day}{why}. To appeal, write to {who}."
            )

    async def report(self, actor: Actor, target: str, reason: str) -> int:
        """Report an item to its guild's moderators; returns its number of open reports."""
        reason = _reason(reason, required=True)
        item = await self.item(target)
        report = {"name": actor.name, "reason": reason, "at": self.clock()}
        code = await self.durable.run(
            self.redis,
            self._report,
            [item.key, keys.reports(item.ref), keys.mod_queue(item.guild_id)],
            [actor.user_id, json.dumps(report), item.ref, repr(self.clock()), item.owner_field],
        )
        if code == -1:
            raise ModerationError(f"there is no {item.kind} {item.ref}")
        if code == -2:
            raise ModerationError(f"{item.ref} is not public, so it needs no report")
        if code == -3:
            raise ModerationError(f"{item.ref} is yours: you can't report your own {item.kind}")
        if code == 0:
            raise ModerationError(f"you have already reported {item.ref}; the moderators will see")
        log.info("%s reported %s: %s", actor.user_id, item.ref, reason)
        return int(code)

    # -- moderators

    async def hide(self, actor: Actor, target: str, reason: str = "") -> Item:
        return await self._change(actor, HIDE, target, reason)

    async def restore(self, actor: Actor, target: str, reason: str = "") -> Item:
        """Publish a held, hidden or deleted item; on a published one, dismiss its reports."""
        return await self._change(actor, RESTORE, target, reason)

    async def delete(self, actor: Actor, target: str, reason: str = "") -> Item:
        """Soft-delete: out of every listing, kept on file, `restore` brings it back."""
        return await self._change(actor, DELETE, target, reason)

    async def _change(self, actor: Actor, action: str, target: str, reason: str) -> Item:
        reason = _reason(reason)
        item = await self.item(target)
        if not actor.moderates(item.guild_id):
            await self._refuse(actor, action, item.ref, item.guild_id)
        queued = await self.redis.zscore(keys.mod_queue(item.guild_id), item.ref) is not None
        new = _TO[action]
        if item.status == new and not queued:
            raise ModerationError(f"{item.ref} is already {new}")
        entry = self._entry(actor, action, item.ref, reason, f"{item.status} -> {new}")
        resolution = json.dumps({"action": action, "by": actor.user_id, "at": entry["at"]})
        old = await self.durable.run(
            self.redis,
            self._act,
            [
                *INDEX_KEYS,
                item.key,
                keys.reports(item.ref),
                keys.reports_closed(item.ref),
                keys.mod_queue(item.guild_id),
                keys.mod_log(item.guild_id),
            ],
            [
                keys.VOTES_PREFIX,
                keys.BY_PREFIX,
                item.number or "",
                new,
                reason,
                resolution,
                json.dumps(entry),
                item.ref,
                item.owner_field,
                LOG_KEPT,
            ],
        )
        if old is None:
            raise ModerationError(f"{item.ref} is gone")
        log.info("%s: %s %s (%s -> %s)", actor.user_id, action, item.ref, text(old), new)
        return await self.item(item.ref)

    async def queue(self, actor: Actor, page: int = 1) -> Page:
        """What waits for this guild's moderators, oldest first: reported, held and flagged
        items with their open reports."""
        if not actor.may_moderate_here:
            await self._refuse(actor, QUEUE)
        key = keys.mod_queue(actor.guild_id)
        total = await self.redis.zcard(key)
        start, stop, pages = page_bounds(page, total, PAGE_SIZE)
        rows = await self.redis.zrange(key, start, stop, withscores=True)
        entries = []
        for ref_, since in rows:
            item = await self.item(text(ref_))
            raw = await self.redis.hgetall(keys.reports(item.ref))
            reports = sorted(
                (Report.from_dict(text(uid), json.loads(text(r))) for uid, r in raw.items()),
                key=lambda r: r.at,
            )
            record = await self.redis.hmget(item.key, "reason", "verification")
            held, verification = (text(v) if v else "" for v in record)
            why = "re-read gave another fingerprint" if verification == "flagged" else held
            entries.append(QueueEntry(item, float(since), reports, why))
        return Page(entries, page, pages, total)

    async def ban(
        self, actor: Actor, user_id: str, name: str, reason: str = "", everywhere: bool = False
    ) -> str:
        """Ban a person from the bot's commands in this guild (owners: everywhere); returns
        where: the guild id or keys.BAN_EVERYWHERE."""
        reason = _reason(reason)
        where = await self._ban_scope(actor, BAN, user_id, everywhere)
        if user_id == actor.user_id:
            raise ModerationError("you can't ban yourself")
        if user_id in self.owner_ids:
            raise ModerationError("the bot's owners can't be banned")
        entry = self._entry(actor, BAN, f"{name} ({user_id})", reason, where)
        ban = {"by": actor.user_id, "by_name": actor.name, "at": entry["at"], "reason": reason}
        ban = json.dumps({**ban, "name": name})
        await self.durable.run(
            self.redis,
            self._ban,
            [keys.bans(where), keys.mod_log(actor.guild_id)],
            [user_id, ban, json.dumps(entry), LOG_KEPT],
        )
        log.info("%s banned %s in %s", actor.user_id, user_id, where)
        return where

    async def unban(self, actor: Actor, user_id: str, name: str, everywhere: bool = False) -> str:
        where = await self._ban_scope(actor, UNBAN, user_id, everywhere)
        entry = self._entry(actor, UNBAN, f"{name} ({user_id})", "", where)
        changed = await self.durable.run(
            self.redis,
            self._ban,
            [keys.bans(where), keys.mod_log(actor.guild_id)],
            [user_id, "", json.dumps(entry), LOG_KEPT],
        )
        if not changed:
            raise ModerationError(f"{name} is not banned {'everywhere' if everywhere else 'here'}")
        return where

    async def bans(self, actor: Actor) -> list[tuple[str, dict]]:
        """This guild's bans (and, for owners, the global ones): (user id, ban record)."""
        if not actor.may_moderate_here:
            await self._refuse(actor, BANS)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.bans(actor.guild_id))
        pipe.hgetall(keys.bans(keys.BAN_EVERYWHERE))
        here, everywhere = await pipe.execute()
        found = [(text(u), {**json.loads(text(b)), "where": "here"}) for u, b in here.items()]
        if actor.is_owner:
            found += [
                (text(u), {**json.loads(text(b)), "where": "everywhere"})
                for u, b in everywhere.items()
            ]
        return sorted(found, key=lambda ub: ub[1]["at"])

    async def log(self, actor: Actor, page: int = 1) -> Page:
        """The guild's mod log, newest first: every action and refused attempt."""
        if not actor.may_moderate_here:
            await self._refuse(actor, LOG)
        key = keys.mod_log(actor.guild_id)
        total = await self.redis.llen(key)
        start, stop, pages = page_bounds(page, total, PAGE_SIZE)
        # newest first: page 1 is the list's tail
        raw = await self.redis.lrange(key, -1 - stop, -1 - start)
        entries = [LogEntry.from_dict(json.loads(text(e))) for e in reversed(raw)]
        return Page(entries, page, pages, total)

    # -- helpers

    async def item(self, target: str) -> Item:
        """The discovery (`D-5`) or bookmark (`@name`) a moderation command names."""
        target = target.strip()
        if target.startswith(SIGIL):
            name = parse_name(target)
            kind, ref_, key, number, owner_field = (
                BOOKMARK,
                SIGIL + name,
                keys.bookmark(name),
                0,
                "owner_id",
            )
            shown = ("address",)
        else:
            number = parse_id(target)
            kind, ref_, key, owner_field = (
                DISCOVERY,
                f"{REF}{number}",
                keys.discovery(number),
                "finder_id",
            )
            shown = ("title", "text")
        fields = await self.redis.hmget(key, "status", owner_field, "guild_id", *shown)
        if fields[0] is None:
            raise ModerationError(f"there is no {kind} {ref_}")
        status, owner, guild, *labels = (text(f) if f is not None else "" for f in fields)
        label = next((x for x in labels if x), "")[:LABEL_CHARS]
        return Item(kind, ref_, key, number, owner_field, owner, guild, status, label)

    async def require_moderator(self, actor: Actor, action: str, target: str = "") -> None:
        """Refuse, and log, a mod command from someone who may not moderate here."""
        if not actor.may_moderate_here:
            await self._refuse(actor, action, target)

    async def _ban_scope(self, actor: Actor, action: str, user_id: str, everywhere: bool) -> str:
        """Where a ban holds: the actor's guild, or everywhere (owners only; an owner outside
        any guild always bans everywhere). Refuses, logged, whoever may not ban there."""
        if actor.is_owner and (everywhere or not actor.guild_id):
            return keys.BAN_EVERYWHERE
        if everywhere or not actor.may_moderate_here:
            await self._refuse(actor, f"{action} everywhere" if everywhere else action, user_id)
        return actor.guild_id

    def _entry(self, actor: Actor, action: str, target: str, reason: str, detail: str) -> dict:
        return {
            "at": self.clock(),
            "by_id": actor.user_id,
            "by_name": actor.name,
            "action": action,
            "target": target,
            "reason": reason,
            "detail": detail,
        }

    async def _refuse(
        self, actor: Actor, action: str, target: str = "", guild: str | None = None
    ) -> None:
        """Log a refused attempt in the actor's guild's mod log, then refuse it. `guild`: the
        guild of the item acted on, if any."""
        entry = self._entry(actor, REFUSED, target, "", f"tried mod {action}")
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(keys.mod_log(actor.guild_id), json.dumps(entry))
        pipe.ltrim(keys.mod_log(actor.guild_id), -LOG_KEPT, -1)
        await pipe.execute()
        log.warning("refused `mod %s %s` by %s in %r", action, target, actor.user_id, guild)
        if guild is not None and actor.is_moderator and guild != actor.guild_id:
            raise NotModerator(
                f"{target} was shared in another server (or outside any server): only its "
                f"moderators can act on it; report {target} <reason> flags it to them"
            )
        raise NotModerator(f"only this server's moderators can use mod {action}")
