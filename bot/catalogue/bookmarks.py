"""Bookmarks: short names for addresses, usable wherever an address is (`read @my-name`).

Names are unique across the whole library (a name means one volume everywhere), 2 to 32
characters of a-z, 0-9 and `-`, starting and ending with a letter or digit, case-folded
(`@My-Name` is `my-name`). The owner may point their name at another address or remove it;
a name that matches the word filter is held until a moderator approves it, and moderators
hide, restore or delete bookmarks as they do discoveries (moderation.py). A held bookmark
works for its owner only; a hidden or deleted one for nobody, and its name stays taken.
A removed bookmark is archived (never lost) and its name is free again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from babel_core.errors import LibraryError
from babel_core.jobs import volume_name

from .. import keys
from ..actor import Actor
from .discovery_records import HELD, PUBLISHED, Page, page_bounds, unavailable
from .durable import Durability, text
from .wordfilter import WordFilter

log = logging.getLogger(__name__)

SIGIL = "@"
PAGE_SIZE = 10
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,30}[a-z0-9]")


class BookmarkError(LibraryError, ValueError):
    """A bookmark request that cannot be served as asked; the message says what to do."""


def parse_name(raw: str) -> str:
    """`@My-Name` or `my-name` -> `my-name`; refuses names outside the rules."""
    name = raw.strip().removeprefix(SIGIL).lower()
    if not _NAME.fullmatch(name):
        raise BookmarkError(
            f"{raw.strip()!r} can't be a bookmark name: use 2 to 32 letters a-z, digits and "
            "hyphens, starting and ending with a letter or digit (like my-find-2)"
        )
    return name


@dataclass(frozen=True)
class Bookmark:
    name: str
    address: str
    owner_id: str
    owner_name: str
    guild_id: str
    created: float
    status: str = PUBLISHED
    reason: str = ""

    @property
    def ref(self) -> str:
        return SIGIL + self.name

    @classmethod
    def from_hash(cls, name: str, raw: dict) -> Bookmark:
        f = {text(k): text(v) for k, v in raw.items()}
        return cls(
            name=name,
            address=f["address"],
            owner_id=f["owner_id"],
            owner_name=f["owner_name"],
            guild_id=f["guild_id"],
            created=float(f["created"]),
            status=f["status"],
            reason=f.get("reason", ""),
        )

    def fields(self) -> dict[str, str]:
        return {
            "address": self.address,
            "owner_id": self.owner_id,
            "owner_name": self.owner_name,
            "guild_id": self.guild_id,
            "created": repr(self.created),
            "status": self.status,
            "reason": self.reason,
        }


# KEYS: bookmark, owner's bookmarks, names, mod queue.
# ARGV: owner, owner name, now, name, ref, status, address, then the field/value pairs.
# Returns 1 made, 2 re-pointed (the owner's own), 0 taken by someone else, -1 removed by mods.
_CREATE = """
local b = redis.call('HMGET', KEYS[1], 'owner_id', 'status')
if b[1] then
  if b[1] ~= ARGV[1] then return 0 end
  if b[2] == 'hidden' or b[2] == 'deleted' then return -1 end
  redis.call('HSET', KEYS[1], 'address', ARGV[7])
  return 2
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if ARGV[6] ~= 'published' then redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[5]) end
return 1
"""

# KEYS: bookmark, owner's bookmarks, removed archive, mod queue, open reports.
# ARGV: owner, name, ref, now. Returns 1 removed, -1 unknown, 0 not the owner's,
# -2 removed by moderators, -3 has open reports.
_REMOVE = """
local b = redis.call('HMGET', KEYS[1], 'owner_id', 'status')
if not b[1] then return -1 end
if b[1] ~= ARGV[1] then return 0 end
if b[2] == 'hidden' or b[2] == 'deleted' then return -2 end
if redis.call('EXISTS', KEYS[5]) == 1 then return -3 end
local flat = redis.call('HGETALL', KEYS[1])
local record = {name = ARGV[2], removed_at = ARGV[4]}
for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
redis.call('RPUSH', KEYS[3], cjson.encode(record))
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
"""


class Bookmarks:
    def __init__(
        self,
        redis,
        durable: Durability,
        word_filter: WordFilter | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.redis = redis
        self.durable = durable
        self.filter = word_filter or WordFilter()
        self.clock = clock
        self._create = redis.register_script(_CREATE)
        self._remove = redis.register_script(_REMOVE)

    async def create(
        self, actor: Actor, name: str, address: str, words: WordFilter | None = None
    ) -> tuple[Bookmark, bool]:
        """Name an address (or point the actor's own name elsewhere). Returns the bookmark and
        whether it is new. `words`: the filter of the server it is made in (default: the
        catalogue's own)."""
        name = parse_name(name)
        canonical = volume_name(address)
        word = (words or self.filter).match_name(name)
        now = self.clock()
        b = Bookmark(
            name=name,
            address=canonical,
            owner_id=actor.user_id,
            owner_name=actor.name,
            guild_id=actor.guild_id,
            created=now,
            status=HELD if word else PUBLISHED,
            reason=f"word filter: {word}" if word else "",
        )
        pairs = [x for item in b.fields().items() for x in item]
        code = await self.durable.run(
            self.redis,
            self._create,
            [
                keys.bookmark(name),
                keys.user_bookmarks(actor.user_id),
                keys.USER_NAMES,
                keys.mod_queue(actor.guild_id),
            ],
            [actor.user_id, actor.name, repr(now), name, b.ref, b.status, canonical, *pairs],
        )
        if code == 0:
            raise BookmarkError(f"the name @{name} is taken; choose another")
        if code == -1:
            raise BookmarkError(f"@{name} was removed by the moderators and can't be changed")
        return await self.get(name), code == 1

    async def get(self, name: str) -> Bookmark:
        name = parse_name(name)
        raw = await self.redis.hgetall(keys.bookmark(name))
        if not raw:
            raise BookmarkError(f"there is no bookmark @{name}")
        return Bookmark.from_hash(name, raw)

    async def resolve(self, target: str, actor: Actor) -> str:
        """An address as typed, or the address a `@name` stands for, as `actor` may use it
        where they are (not where its server's moderators hid it from their view)."""
        if not target.strip().startswith(SIGIL):
            return target
        b = await self.get(target)
        if b.owner_id == actor.user_id and b.status in (PUBLISHED, HELD):
            return b.address
        if b.status != PUBLISHED:
            raise BookmarkError(unavailable(b, otherwise="is not available"))
        if await self.redis.hexists(keys.view_hidden(actor.guild_id), b.ref):
            raise BookmarkError(f"{b.ref} was hidden from this server by its moderators")
        return b.address

    async def remove(self, actor: Actor, name: str) -> Bookmark:
        """Remove the actor's own bookmark: archived, and the name is free again."""
        b = await self.get(name)
        code = await self.durable.run(
            self.redis,
            self._remove,
            [
                keys.bookmark(b.name),
                keys.user_bookmarks(b.owner_id),
                keys.BOOKMARKS_REMOVED,
                keys.mod_queue(b.guild_id),
                keys.reports(b.ref),
            ],
            [actor.user_id, b.name, b.ref, repr(self.clock())],
        )
        if code == -1:
            raise BookmarkError(f"there is no bookmark {b.ref}")
        if code == 0:
            raise BookmarkError(f"{b.ref} belongs to {b.owner_name}; you can remove only yours")
        if code == -2:
            raise BookmarkError(f"{b.ref} was removed by the moderators; only they can change it")
        if code == -3:
            raise BookmarkError(f"{b.ref} has open reports; a moderator will look at it first")
        return b

    async def names(self, user_id: str) -> list[str]:
        """A person's bookmark names, newest first (slash-command autocomplete)."""
        return [text(n) for n in await self.redis.zrevrange(keys.user_bookmarks(user_id), 0, -1)]

    async def listing(self, viewer: Actor, user_id: str | None = None, page: int = 1) -> Page:
        """A person's bookmarks, newest first: all of them for their owner, else the published
        ones the viewer's server shows."""
        owner = user_id or viewer.user_id
        names = await self.names(owner)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.bookmark(name))
        pipe.hkeys(keys.view_hidden(viewer.guild_id))
        *raws, hidden = await pipe.execute()
        marks = [Bookmark.from_hash(n, raw) for n, raw in zip(names, raws, strict=True)]
        if owner != viewer.user_id:
            hidden = {text(h) for h in hidden}
            marks = [b for b in marks if b.status == PUBLISHED and b.ref not in hidden]
        start, stop, pages = page_bounds(page, len(marks), PAGE_SIZE)
        return Page(marks[start : stop + 1], page, pages, len(marks))
