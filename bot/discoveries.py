"""Discoveries: volumes people found and shared, with votes, browsing and verification.

A discovery is the reproducible tuple (edition, canonical address, prompt, max tokens) with the
reading it gave, its fingerprint, a title, who found it, where and when. The tuple decides
identity: sharing it again returns the discovery already on file (the dedupe key is a hash of
the tuple). Discoveries are numbered D-1, D-2, ... by one INCR.

Every write is one Lua script (atomic: fifty people voting at once are counted exactly) run
through `Durability`, so the person is only told it worked once it is on disk. Indexes are
kept by the same scripts: `top` (votes), `new`, a finder's published and all finds, and the
finders' leaderboard hold published discoveries only; moderation moves a discovery in and out
of them (bot/moderation.py).

Verification: a worker re-reads the tuple after a share; `record_reread` takes that result
and marks the discovery verified (same fingerprint) or flagged (different: it goes to the
moderators' queue). The reading on file stays canonical either way: the first one recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from babel_core import keys
from babel_core.address import parse_address
from babel_core.edition import MAX_PROMPT_TOKENS, MAX_TOKENS_CAP, Edition
from babel_core.errors import LibraryError

from .actor import Actor
from .durable import Durability, text
from .wordfilter import WordFilter

log = logging.getLogger(__name__)

PUBLISHED, HELD, HIDDEN, DELETED = "published", "held", "hidden", "deleted"
PENDING, VERIFIED, FLAGGED = "pending", "verified", "flagged"
TOP, NEW, MINE, USER = "top", "new", "mine", "user"
PAGE_SIZE = 5
MAX_TITLE = 80
MAX_PROMPT_CHARS = 8 * MAX_PROMPT_TOKENS
REF = "D-"

_ID = re.compile(r"(?:d-?|#)?([0-9]{1,12})", re.IGNORECASE)
_FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")


class DiscoveryError(LibraryError, ValueError):
    """A discovery request that cannot be served as asked; the message says what to do."""


def parse_id(text_: str) -> int:
    """`D-12`, `d12`, `#12` or `12` -> 12."""
    found = _ID.fullmatch(text_.strip())
    if found is None or int(found[1]) == 0:
        raise DiscoveryError(f"{text_.strip()!r} is not a discovery id: they look like D-12")
    return int(found[1])


def ref(n: int) -> str:
    return f"{REF}{n}"


def tuple_key(edition_id: str, address: str, prompt: str, max_tokens: int) -> str:
    """The dedupe key: 32 hex digits of SHA-256 over the reproducible tuple."""
    blob = json.dumps([edition_id, address, prompt, max_tokens], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Discovery:
    number: int
    edition: str
    address: str
    prompt: str
    max_tokens: int
    text: str
    token_ids: tuple[int, ...]
    fingerprint: str
    title: str
    finder_id: str
    finder_name: str
    guild_id: str
    created: float
    status: str = PUBLISHED
    verification: str = PENDING
    reread_fingerprint: str = ""
    reason: str = ""  # why it is held or hidden (word filter, moderator's note)
    votes: int = 0

    @property
    def ref(self) -> str:
        return ref(self.number)

    @classmethod
    def from_hash(cls, n: int, raw: dict, votes: int = 0) -> Discovery:
        f = {text(k): text(v) for k, v in raw.items()}
        return cls(
            number=n,
            edition=f["edition"],
            address=f["address"],
            prompt=f["prompt"],
            max_tokens=int(f["max_tokens"]),
            text=f["text"],
            token_ids=tuple(json.loads(f["token_ids"])),
            fingerprint=f["fingerprint"],
            title=f["title"],
            finder_id=f["finder_id"],
            finder_name=f["finder_name"],
            guild_id=f["guild_id"],
            created=float(f["created"]),
            status=f["status"],
            verification=f.get("verification", PENDING),
            reread_fingerprint=f.get("reread_fingerprint", ""),
            reason=f.get("reason", ""),
            votes=votes,
        )

    def fields(self) -> dict[str, str]:
        """The record as stored in its hash (everything but the number and the vote count)."""
        return {
            "edition": self.edition,
            "address": self.address,
            "prompt": self.prompt,
            "max_tokens": str(self.max_tokens),
            "text": self.text,
            "token_ids": json.dumps(list(self.token_ids)),
            "fingerprint": self.fingerprint,
            "title": self.title,
            "finder_id": self.finder_id,
            "finder_name": self.finder_name,
            "guild_id": self.guild_id,
            "created": repr(self.created),
            "status": self.status,
            "verification": self.verification,
            "reread_fingerprint": self.reread_fingerprint,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Shared:
    discovery: Discovery
    new: bool  # False: this tuple had been shared before, and that discovery is returned


@dataclass(frozen=True)
class Page:
    items: list = field(default_factory=list)
    page: int = 1  # 1-based
    pages: int = 1
    total: int = 0


@dataclass(frozen=True)
class Finder:
    rank: int
    user_id: str
    name: str
    votes: int
    finds: int


def page_bounds(page: int, total: int, size: int = PAGE_SIZE) -> tuple[int, int, int]:
    """(first index, last index, number of pages) of a 1-based page; refuses page < 1."""
    if page < 1:
        raise DiscoveryError(f"pages are numbered from 1, not {page}")
    start = (page - 1) * size
    return start, start + size - 1, max(1, math.ceil(total / size))


# Moves published discovery n of `finder` into (on = 1) or out of (on = -1) the indexes.
# KEYS[1..4]: top, new, leaderboard votes, leaderboard finds. votes_p, by_p: key prefixes.
INDEX_LUA = """
local function index(n, finder, on, votes_p, by_p)
  local votes = redis.call('SCARD', votes_p .. n)
  if on > 0 then
    redis.call('ZADD', KEYS[1], votes, string.format('%012d', n))
    redis.call('ZADD', KEYS[2], n, n)
    redis.call('ZADD', by_p .. finder, n, n)
  else
    redis.call('ZREM', KEYS[1], string.format('%012d', n))
    redis.call('ZREM', KEYS[2], n)
    redis.call('ZREM', by_p .. finder, n)
  end
  redis.call('ZINCRBY', KEYS[3], on * votes, finder)
  if tonumber(redis.call('ZINCRBY', KEYS[4], on, finder)) <= 0 then
    redis.call('ZREM', KEYS[3], finder)
    redis.call('ZREM', KEYS[4], finder)
  end
end
"""
INDEX_KEYS = [keys.DISCOVERIES_TOP, keys.DISCOVERIES_NEW, keys.BOARD_VOTES, keys.BOARD_FINDS]

# KEYS: INDEX_KEYS, tuples, seq, names, mod queue. ARGV: votes_p, by_p, discovery_p, mine_p,
# tuple key, finder, finder name, status, now, ref prefix, then the record's field/value pairs.
# Returns {1, n} for a new discovery, {0, n} when the tuple was already on file.
_SHARE = (
    INDEX_LUA
    + """
local found = redis.call('HGET', KEYS[5], ARGV[5])
if found then return {0, tonumber(found)} end
local n = redis.call('INCR', KEYS[6])
redis.call('HSET', ARGV[3] .. n, unpack(ARGV, 11))
redis.call('HSET', KEYS[5], ARGV[5], n)
redis.call('HSET', KEYS[7], ARGV[6], ARGV[7])
redis.call('ZADD', ARGV[4] .. ARGV[6], n, n)
if ARGV[8] == 'published' then
  index(n, ARGV[6], 1, ARGV[1], ARGV[2])
else
  redis.call('ZADD', KEYS[8], 'NX', ARGV[9], ARGV[10] .. n)
end
return {1, n}
"""
)

# KEYS: discovery, votes, top, leaderboard votes. ARGV: voter, n's member in top.
# Returns {code, votes}: 1 counted, 0 already voted, -1 unknown, -2 not published, -3 own.
_VOTE = """
local d = redis.call('HMGET', KEYS[1], 'status', 'finder_id')
if not d[1] then return {-1, 0} end
if d[1] ~= 'published' then return {-2, 0} end
if d[2] == ARGV[1] then return {-3, 0} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {0, redis.call('SCARD', KEYS[2])} end
redis.call('ZINCRBY', KEYS[3], 1, ARGV[2])
redis.call('ZINCRBY', KEYS[4], 1, d[2])
return {1, redis.call('SCARD', KEYS[2])}
"""

# Same keys and arguments. Returns {code, votes}: 1 withdrawn, 0 never given, -1 unknown.
_UNVOTE = """
local d = redis.call('HMGET', KEYS[1], 'status', 'finder_id')
if not d[1] then return {-1, 0} end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return {0, redis.call('SCARD', KEYS[2])} end
if d[1] == 'published' then
  redis.call('ZINCRBY', KEYS[3], -1, ARGV[2])
  redis.call('ZINCRBY', KEYS[4], -1, d[2])
end
return {1, redis.call('SCARD', KEYS[2])}
"""

# KEYS: discovery, mod queue. ARGV: re-read fingerprint, now, ref.
_VERIFY = """
local fp = redis.call('HGET', KEYS[1], 'fingerprint')
if not fp then return false end
local v = 'verified'
if fp ~= ARGV[1] then v = 'flagged' end
redis.call('HSET', KEYS[1], 'verification', v, 'reread_fingerprint', ARGV[1])
if v == 'flagged' then redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3]) end
return v
"""


def clean_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise DiscoveryError(f"the title is {len(title)} characters long; at most {MAX_TITLE}")
    return title


class Discoveries:
    """The discovery catalogue on one Redis (the system of record)."""

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
        self._share = redis.register_script(_SHARE)
        self._vote = redis.register_script(_VOTE)
        self._unvote = redis.register_script(_UNVOTE)
        self._verify = redis.register_script(_VERIFY)

    async def share(
        self,
        actor: Actor,
        edition: Edition,
        address: str,
        prompt: str,
        max_tokens: int,
        reading,
        title: str = "",
    ) -> Shared:
        """Record a discovery (or find the one with the same tuple). `reading` has text,
        token_ids and fingerprint: a babel_core Reading or a worker's Result."""
        canonical = str(parse_address(address))
        if not 1 <= max_tokens <= MAX_TOKENS_CAP:
            raise DiscoveryError(f"max tokens must be between 1 and {MAX_TOKENS_CAP}")
        if not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
            raise DiscoveryError(f"the prompt must have 1 to {MAX_PROMPT_CHARS} characters")
        token_ids = tuple(int(t) for t in reading.token_ids)
        if len(token_ids) > max_tokens or not _FINGERPRINT.fullmatch(reading.fingerprint or ""):
            raise DiscoveryError("that reading does not belong to these settings; read it again")
        title = clean_title(title)
        word = self.filter.match(title, prompt, reading.text)
        now = self.clock()
        d = Discovery(
            number=0,
            edition=edition.id,
            address=canonical,
            prompt=prompt,
            max_tokens=max_tokens,
            text=reading.text,
            token_ids=token_ids,
            fingerprint=reading.fingerprint,
            title=title,
            finder_id=actor.user_id,
            finder_name=actor.name,
            guild_id=actor.guild_id,
            created=now,
            status=HELD if word else PUBLISHED,
            reason=f"word filter: {word}" if word else "",
        )
        pairs = [x for item in d.fields().items() for x in item]
        created, n = await self.durable.run(
            self.redis,
            self._share,
            [
                *INDEX_KEYS,
                keys.DISCOVERY_TUPLES,
                keys.DISCOVERY_SEQ,
                keys.USER_NAMES,
                keys.mod_queue(d.guild_id),
            ],
            [
                keys.VOTES_PREFIX,
                keys.BY_PREFIX,
                keys.DISCOVERY_PREFIX,
                keys.MINE_PREFIX,
                tuple_key(d.edition, d.address, d.prompt, d.max_tokens),
                actor.user_id,
                actor.name,
                d.status,
                repr(now),
                REF,
                *pairs,
            ],
        )
        if created:
            log.info("%s shared %s (%s) as %s", actor.user_id, canonical, d.status, ref(n))
        return Shared(await self.get(int(n)), bool(created))

    async def get(self, n: int) -> Discovery:
        """The discovery, whatever its status (for moderators and the services themselves)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.discovery(n))
        pipe.scard(keys.votes(n))
        raw, votes = await pipe.execute()
        if not raw:
            raise DiscoveryError(f"there is no discovery {ref(n)}")
        return Discovery.from_hash(n, raw, int(votes))

    async def show(self, n: int, viewer: Actor) -> Discovery:
        """The discovery as `viewer` may see it: published ones to all; held, hidden and
        deleted ones to their finder and to the moderators of their guild only."""
        d = await self.get(n)
        if d.status == PUBLISHED or viewer.user_id == d.finder_id or viewer.moderates(d.guild_id):
            return d
        raise DiscoveryError(unavailable(d))

    async def has_voted(self, n: int, user_id: str) -> bool:
        return bool(await self.redis.sismember(keys.votes(n), user_id))

    async def vote(self, actor: Actor, n: int) -> int:
        """Count the actor's vote for discovery n; returns its votes."""
        code, votes = await self.durable.run(
            self.redis,
            self._vote,
            [keys.discovery(n), keys.votes(n), keys.DISCOVERIES_TOP, keys.BOARD_VOTES],
            [actor.user_id, keys.top_member(n)],
        )
        if code == -1:
            raise DiscoveryError(f"there is no discovery {ref(n)}")
        if code == -2:
            raise DiscoveryError(
                f"{ref(n)} is not open for votes: {unavailable(await self.get(n))}"
            )
        if code == -3:
            raise DiscoveryError("you can't vote for your own discovery")
        if code == 0:
            raise DiscoveryError(
                f"you have already voted for {ref(n)} ({votes} votes); `unvote {ref(n)}` "
                "takes your vote back"
            )
        return int(votes)

    async def unvote(self, actor: Actor, n: int) -> int:
        """Withdraw the actor's vote for discovery n; returns its votes."""
        code, votes = await self.durable.run(
            self.redis,
            self._unvote,
            [keys.discovery(n), keys.votes(n), keys.DISCOVERIES_TOP, keys.BOARD_VOTES],
            [actor.user_id, keys.top_member(n)],
        )
        if code == -1:
            raise DiscoveryError(f"there is no discovery {ref(n)}")
        if code == 0:
            raise DiscoveryError(
                f"you haven't voted for {ref(n)}, so there is no vote to take back"
            )
        return int(votes)

    async def mark_verified(self, n: int, fingerprint: str) -> str:
        """Record a worker's re-read: VERIFIED when its fingerprint matches, else FLAGGED (and
        queued for the moderators). Returns the verification."""
        guild = await self.redis.hget(keys.discovery(n), "guild_id")
        if guild is None:
            raise DiscoveryError(f"there is no discovery {ref(n)}")
        verdict = await self.durable.run(
            self.redis,
            self._verify,
            [keys.discovery(n), keys.mod_queue(text(guild))],
            [fingerprint, repr(self.clock()), ref(n)],
        )
        verdict = text(verdict)
        if verdict == FLAGGED:
            log.warning("%s re-read with fingerprint %s: flagged", ref(n), fingerprint)
        return verdict

    async def record_reread(self, n: int, result) -> str:
        """Take a re-read job's result (babel_core.jobs.Result or any object with `error` and
        `fingerprint`) and record it; a failed re-read leaves the discovery PENDING."""
        if getattr(result, "error", None):
            log.warning("re-reading %s failed: %s", ref(n), result.error)
            return (await self.get(n)).verification
        return await self.mark_verified(n, result.fingerprint)

    async def browse(
        self, view: str, viewer: Actor, page: int = 1, user_id: str | None = None
    ) -> Page:
        """A page of discoveries: TOP (most votes), NEW, MINE (all of the viewer's, whatever
        their status) or USER (user_id's published ones; all of them when it is the viewer)."""
        if view == USER and user_id == viewer.user_id:
            view = MINE
        index = {
            TOP: keys.DISCOVERIES_TOP,
            NEW: keys.DISCOVERIES_NEW,
            MINE: keys.mine(viewer.user_id),
            USER: keys.by_finder(user_id or ""),
        }.get(view)
        if index is None:
            raise DiscoveryError(f"browse top, new, mine or a person, not {view!r}")
        total = await self.redis.zcard(index)
        start, stop, pages = page_bounds(page, total)
        numbers = [int(text(n)) for n in await self.redis.zrevrange(index, start, stop)]
        return Page(await self._many(numbers), page, pages, total)

    async def _many(self, numbers: list[int]) -> list[Discovery]:
        pipe = self.redis.pipeline(transaction=False)
        for n in numbers:
            pipe.hgetall(keys.discovery(n))
            pipe.scard(keys.votes(n))
        replies = await pipe.execute()
        return [
            Discovery.from_hash(n, replies[2 * i], int(replies[2 * i + 1]))
            for i, n in enumerate(numbers)
        ]

    async def leaderboard(self, page: int = 1) -> Page:
        """Finders ranked by the votes on their published discoveries, then by their number."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.BOARD_VOTES, 0, -1, withscores=True)
        pipe.zrange(keys.BOARD_FINDS, 0, -1, withscores=True)
        pipe.hgetall(keys.USER_NAMES)
        votes, finds, names = await pipe.execute()
        votes = {text(u): int(s) for u, s in votes}
        names = {text(u): text(v) for u, v in names.items()}
        board = sorted(
            ((votes.get(text(u), 0), int(s), text(u)) for u, s in finds),
            key=lambda row: (-row[0], -row[1], names.get(row[2], ""), row[2]),
        )
        start, stop, pages = page_bounds(page, len(board))
        rows = [
            Finder(start + i + 1, user, names.get(user, user), v, f)
            for i, (v, f, user) in enumerate(board[start : stop + 1])
        ]
        return Page(rows, page, pages, len(board))


def unavailable(d: Discovery) -> str:
    """Why someone other than the finder or a moderator cannot see discovery d."""
    return {
        HELD: f"{d.ref} is waiting for a moderator's review",
        HIDDEN: f"{d.ref} was hidden by the moderators",
        DELETED: f"{d.ref} was deleted by the moderators",
    }.get(d.status, f"{d.ref} is not public")
