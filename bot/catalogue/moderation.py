"""Moderation of what was shared: reports, the review queues, hiding, restoring and deleting.

The catalogue is one library that every server shows (docs/moderation.md, "Who decides"):

- anyone who is not banned may `report` a discovery (`D-5`) or bookmark (`@name`) they can
  see and did not make, once, with a reason; the report waits in the queue of the server it
  was made in (the library's own queue for direct messages and the console);
- a server's moderators decide what their server shows: `hide` takes an item out of their
  server's view (every other server still shows it), `restore` brings it back, and publishes
  what their own server's word filter held;
- library moderators (named by the bot's owners: bans.py) decide for the library: with
  `everywhere`, `hide` and `restore` change the item itself, for every server; `delete` (soft,
  restorable) is theirs alone; what was shared outside any server is theirs too.

Every action and every refused attempt is appended to a mod log with who and when: a view's
changes to that server's, library-wide ones to the library's (and the acting server's); a log
keeps the latest LOG_KEPT entries. A refused attempt is written without waiting for the disk
(it changes nothing). Each action is one Lua script (moderation_scripts.py), durable before the
moderator is told. The records are in moderation_records.py; bans and library moderators in
bans.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from babel_core.errors import LibraryError

from .. import keys
from ..actor import Actor
from .bookmarks import SIGIL, parse_name
from .discovery_records import DELETED, HELD, HIDDEN, PUBLISHED, REF, Page, page_bounds, parse_id
from .discovery_scripts import INDEX_KEYS
from .durable import Durability, text
from .moderation_records import (
    BOOKMARK,
    DELETE,
    DISCOVERY,
    HIDE,
    LOG,
    QUEUE,
    REFUSED,
    RESTORE,
    Item,
    LogEntry,
    QueueEntry,
    Report,
)
from .moderation_scripts import ACT_LUA, REPORT_LUA, VIEW_LUA

log = logging.getLogger(__name__)

PAGE_SIZE = 10
MAX_REASON = 200
LOG_KEPT = 10_000  # entries of a mod log kept (the oldest go first)
LABEL_CHARS = 80  # of a title or reading, in the queue
LIBRARY = ""  # the library's own queue and log (direct messages, the console, library actions)
_TO = {HIDE: HIDDEN, RESTORE: PUBLISHED, DELETE: DELETED}


class ModerationError(LibraryError, ValueError):
    """A report or moderation request that cannot be served as asked."""


class NotModerator(ModerationError, PermissionError):
    """Someone without the right tried a moderator's command (the attempt is logged)."""


def reason_of(reason: str, required: bool = False) -> str:
    reason = " ".join(reason.split())
    if required and not reason:
        raise ModerationError("say why: report D-5 <reason>")
    if len(reason) > MAX_REASON:
        raise ModerationError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}")
    return reason


class ModerationBase:
    """What every moderation service shares: its store, the owners, log entries, refusals."""

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

    def entry(self, actor: Actor, action: str, target: str, reason: str, detail: str) -> dict:
        return {
            "at": self.clock(),
            "by_id": actor.user_id,
            "by_name": actor.name,
            "action": action,
            "target": target,
            "reason": reason,
            "detail": detail,
        }

    async def refuse(
        self, actor: Actor, action: str, target: str = "", *, library=False, owners=False
    ) -> None:
        """Log a refused attempt in the actor's mod log, then refuse it: a server's moderator
        who tried a library-wide action (`library`) or an owner's (`owners`) is told whose it
        is."""
        entry = self.entry(actor, REFUSED, target, "", f"tried mod {action}")
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(keys.mod_log(actor.guild_id), json.dumps(entry))
        pipe.ltrim(keys.mod_log(actor.guild_id), -LOG_KEPT, -1)
        await pipe.execute()
        log.warning("refused `mod %s %s` by %s", action, target, actor.user_id)
        if owners:
            raise NotModerator(f"only the bot's owners can use mod {action}")
        if library and actor.may_moderate_here:
            raise NotModerator(
                f"mod {action} is for the library's moderators (named by the bot's owners); "
                f"mod hide {target} hides it from this server"
            )
        raise NotModerator(f"only this server's moderators can use mod {action}")


class Moderation(ModerationBase):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._act = self.redis.register_script(ACT_LUA)
        self._view = self.redis.register_script(VIEW_LUA)
        self._report = self.redis.register_script(REPORT_LUA)

    async def report(self, actor: Actor, target: str, reason: str) -> int:
        """Report an item to the moderators of the server it was seen in; returns its number
        of open reports."""
        reason = reason_of(reason, required=True)
        item = await self.item(target)
        now = self.clock()
        report = {"name": actor.name, "reason": reason, "at": now, "guild": actor.guild_id or "-"}
        code = await self.durable.run(
            self.redis,
            self._report,
            [
                item.key,
                keys.reports(item.ref),
                keys.mod_queue(actor.guild_id),
                keys.view_hidden(actor.guild_id),
            ],
            [actor.user_id, json.dumps(report), item.ref, repr(now), item.owner_field],
        )
        if code == -1:
            raise ModerationError(f"there is no {item.kind} {item.ref}")
        if code == -2:
            raise ModerationError(f"{item.ref} is not public here, so it needs no report")
        if code == -3:
            raise ModerationError(f"{item.ref} is yours: you can't report your own {item.kind}")
        if code == 0:
            raise ModerationError(f"you have already reported {item.ref}; the moderators will see")
        log.info("%s reported %s: %s", actor.user_id, item.ref, reason)
        return int(code)

    async def act(
        self, actor: Actor, action: str, target: str, reason: str = "", everywhere: bool = False
    ) -> Item:
        """Hide, restore or delete an item: for this server's view, or (`everywhere`, and
        always for delete and outside any server) for the library. Returns the item as the
        actor's server now sees it."""
        reason = reason_of(reason)
        item = await self.item(target, actor.guild_id)
        if everywhere or action == DELETE or not actor.guild_id:
            return await self._library(actor, action, item, reason, everywhere)
        if not actor.may_moderate_here:
            await self.refuse(actor, action, item.ref)
        if action == HIDE:
            if item.hidden_here or item.status != PUBLISHED:
                raise ModerationError(f"{item.ref} is not shown here already")
            return await self._show(actor, item, reason, shown=False)
        if item.hidden_here:
            return await self._show(actor, item, reason, shown=True)
        if item.status == HELD and item.guild_id == actor.guild_id:  # held by our own filter
            return await self._library(actor, action, item, reason, everywhere=False)
        if item.status != PUBLISHED:  # hidden or deleted for the library: not ours to undo
            await self.refuse(actor, f"{action} everywhere", item.ref, library=True)
        if await self.redis.zscore(keys.mod_queue(actor.guild_id), item.ref) is not None:
            return await self._show(actor, item, reason, shown=True)  # reports dismissed here
        raise ModerationError(f"{item.ref} is shown here already")

    async def _show(self, actor: Actor, item: Item, reason: str, shown: bool) -> Item:
        """Hide an item from (or show it again in) the actor's server's view."""
        action = RESTORE if shown else HIDE
        entry = self.entry(
            actor, action, item.ref, reason, "shown here" if shown else "hidden here"
        )
        record = {"by": actor.user_id, "at": entry["at"], "reason": reason}
        await self.durable.run(
            self.redis,
            self._view,
            [
                keys.view_hidden(actor.guild_id),
                keys.mod_queue(actor.guild_id),
                keys.mod_log(actor.guild_id),
            ],
            [item.ref, "" if shown else json.dumps(record), json.dumps(entry), LOG_KEPT],
        )
        log.info("%s: %s %s in %s", actor.user_id, action, item.ref, actor.guild_id)
        return await self.item(item.ref, actor.guild_id)

    async def _library(
        self, actor: Actor, action: str, item: Item, reason: str, everywhere: bool
    ) -> Item:
        """Change the item itself: library moderators, and a server's moderators publishing
        what their own server's filter held."""
        own_held = action == RESTORE and item.status == HELD and actor.moderates(item.guild_id)
        if not (actor.moderates_library or (own_held and not everywhere)):
            tried = action if action == DELETE else f"{action} everywhere"
            await self.refuse(actor, tried, item.ref, library=True)
        new = _TO[action]
        queued = await self.redis.zscore(keys.mod_queue(item.guild_id), item.ref) is not None
        if item.status == new and not queued:
            raise ModerationError(f"{item.ref} is already {new}")
        entry = self.entry(actor, action, item.ref, reason, f"{item.status} -> {new}")
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
                keys.mod_log(LIBRARY if actor.moderates_library else actor.guild_id),
                keys.mod_log(actor.guild_id),
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
                keys.QUEUE_PREFIX,
            ],
        )
        if old is None:
            raise ModerationError(f"{item.ref} is gone")
        log.info("%s: %s %s (%s -> %s)", actor.user_id, action, item.ref, text(old), new)
        return await self.item(item.ref, actor.guild_id)

    async def queue(self, actor: Actor, page: int = 1, everywhere: bool = False) -> Page:
        """What waits for this server's moderators (`everywhere`: the library's), oldest
        first: reported, held and flagged items with their open reports."""
        if everywhere and not actor.moderates_library:
            await self.refuse(actor, f"{QUEUE} everywhere", library=True)
        if not actor.may_moderate_here:
            await self.refuse(actor, QUEUE)
        key = keys.mod_queue(LIBRARY if everywhere else actor.guild_id)
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

    async def log(self, actor: Actor, page: int = 1, everywhere: bool = False) -> Page:
        """This server's mod log (`everywhere`: the library's), newest first: every action
        and refused attempt."""
        if everywhere and not actor.moderates_library:
            await self.refuse(actor, f"{LOG} everywhere", library=True)
        if not actor.may_moderate_here:
            await self.refuse(actor, LOG)
        key = keys.mod_log(LIBRARY if everywhere else actor.guild_id)
        total = await self.redis.llen(key)
        start, stop, pages = page_bounds(page, total, PAGE_SIZE)
        # newest first: page 1 is the list's tail
        raw = await self.redis.lrange(key, -1 - stop, -1 - start)
        entries = [LogEntry.from_dict(json.loads(text(e))) for e in reversed(raw)]
        return Page(entries, page, pages, total)

    async def require_moderator(self, actor: Actor, action: str, target: str = "") -> None:
        """Refuse, and log, a mod command from someone who may not moderate here."""
        if not actor.may_moderate_here:
            await self.refuse(actor, action, target)

    async def item(self, target: str, guild_id: str | None = None) -> Item:
        """The discovery (`D-5`) or bookmark (`@name`) a moderation command names, and
        whether `guild_id`'s moderators hid it from their view."""
        target = target.strip()
        if target.startswith(SIGIL):
            ref_ = SIGIL + parse_name(target)
            kind, key, number, owner_field = BOOKMARK, keys.bookmark(ref_[1:]), 0, "owner_id"
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
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(key, "status", owner_field, "guild_id", *shown)
        pipe.hexists(keys.view_hidden(guild_id or ""), ref_)
        fields, hidden = await pipe.execute()
        if fields[0] is None:
            raise ModerationError(f"there is no {kind} {ref_}")
        status, owner, guild, *labels = (text(f) if f is not None else "" for f in fields)
        label = next((x for x in labels if x), "")[:LABEL_CHARS]
        here = bool(hidden) and guild_id is not None
        return Item(kind, ref_, key, number, owner_field, owner, guild, status, label, here)
