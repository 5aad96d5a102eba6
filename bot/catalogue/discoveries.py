"""Discoveries: volumes people found and shared, with votes, browsing and verification.

The service over the catalogue's Redis (the system of record): share, show, vote, browse and
the finders' leaderboard. The record it stores, its ids and pages are in
discovery_records.py. Every write is one Lua script (discovery_scripts.py) run through
`Durability`, so the person is only told it worked once it is on disk; moderation moves a
discovery in and out of the published indexes (moderation.py).

Verification: a worker re-reads the tuple after a share; `record_reread` takes that result
and marks the discovery verified (same fingerprint) or flagged (different: it goes to the
moderators' queue). The reading on file stays canonical either way: the first one recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable

from babel_core.edition import MAX_PROMPT_TOKENS, MAX_TOKENS_CAP, Edition
from babel_core.jobs import volume_name

from .. import keys
from ..actor import Actor
from .discovery_records import (
    FLAGGED,
    HELD,
    MINE,
    NEW,
    PUBLISHED,
    REF,
    TOP,
    USER,
    Discovery,
    DiscoveryError,
    Finder,
    Page,
    Shared,
    page_bounds,
    ref,
    tuple_key,
    unavailable,
)
from .discovery_scripts import (
    INDEX_KEYS,
    PAGE_LUA,
    SHARE_LUA,
    UNVOTE_LUA,
    VERIFY_LUA,
    VOTE_LUA,
)
from .durable import Durability, text
from .wordfilter import WordFilter

log = logging.getLogger(__name__)

MAX_TITLE = 80
MAX_PROMPT_CHARS = 8 * MAX_PROMPT_TOKENS

_FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")


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
        self._share = redis.register_script(SHARE_LUA)
        self._vote = redis.register_script(VOTE_LUA)
        self._unvote = redis.register_script(UNVOTE_LUA)
        self._verify = redis.register_script(VERIFY_LUA)
        self._page = redis.register_script(PAGE_LUA)

    async def share(
        self,
        actor: Actor,
        edition: Edition,
        address: str,
        prompt: str,
        max_tokens: int,
        reading,
        title: str = "",
        words: WordFilter | None = None,
    ) -> Shared:
        """Record a discovery (or find the one with the same tuple). `reading` has text,
        token_ids and fingerprint: a babel_core Reading or a worker's Result. `words`: the
        filter of the server it is shared in (default: the catalogue's own)."""
        canonical = volume_name(address, edition.param_count)
        if not 1 <= max_tokens <= MAX_TOKENS_CAP:
            raise DiscoveryError(f"max tokens must be between 1 and {MAX_TOKENS_CAP}")
        if not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
            raise DiscoveryError(f"the prompt must have 1 to {MAX_PROMPT_CHARS} characters")
        token_ids = tuple(int(t) for t in reading.token_ids)
        if len(token_ids) > max_tokens or not _FINGERPRINT.fullmatch(reading.fingerprint or ""):
            raise DiscoveryError("that reading does not belong to these settings; read it again")
        title = clean_title(title)
        word = (words or self.filter).match(title, prompt, reading.text)
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
        """The discovery as `viewer` may see it where they are: published ones to all but in
        a server whose moderators hid it from their view; held, hidden and deleted ones to
        their finder and to their moderators only (`hidden_here` says which it is)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hexists(keys.view_hidden(viewer.guild_id), ref(n))
        hidden_here = bool((await pipe.execute())[0])
        d = dataclasses.replace(await self.get(n), hidden_here=hidden_here)
        if viewer.user_id == d.finder_id or viewer.moderates(d.guild_id):
            return d
        if hidden_here and viewer.may_moderate_here:
            return d  # this server's moderators see what they hid
        if d.status == PUBLISHED and not hidden_here:
            return d
        if d.status == PUBLISHED:
            raise DiscoveryError(f"{d.ref} was hidden from this server by its moderators")
        raise DiscoveryError(unavailable(d))

    async def has_voted(self, n: int, user_id: str) -> bool:
        return bool(await self.redis.sismember(keys.votes(n), user_id))

    async def vote(self, actor: Actor, n: int) -> int:
        """Count the actor's vote for discovery n; returns its votes."""
        code, votes = await self.durable.run(
            self.redis,
            self._vote,
            [
                keys.discovery(n),
                keys.votes(n),
                keys.DISCOVERIES_TOP,
                keys.BOARD_VOTES,
                keys.view_hidden(actor.guild_id),
            ],
            [actor.user_id, keys.top_member(n), ref(n)],
        )
        if code == -1:
            raise DiscoveryError(f"there is no discovery {ref(n)}")
        if code == -2:
            d = await self.get(n)
            why = unavailable(d) if d.status != PUBLISHED else "it was hidden from this server"
            raise DiscoveryError(f"{ref(n)} is not open for votes: {why}")
        if code == -3:
            raise DiscoveryError("you can't vote for your own discovery")
        if code == 0:
            raise DiscoveryError(
                f"you have already voted for {ref(n)} ({votes} votes); unvote {ref(n)} "
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
        their status) or USER (user_id's published ones; all of them when it is the viewer).
        What the viewer's server's moderators hid from its view is left out (but of MINE)."""
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
        if view == MINE:
            total = await self.redis.zcard(index)
            start, stop, pages = page_bounds(page, total)
            numbers = [int(text(n)) for n in await self.redis.zrevrange(index, start, stop)]
            return Page(await self._many(numbers), page, pages, total)
        start, stop, _ = page_bounds(page, 0)
        total, *numbers = await self._page(
            keys=[index, keys.view_hidden(viewer.guild_id)],
            args=[start, stop - start + 1, "1" if view == TOP else "0"],
        )
        _, _, pages = page_bounds(page, int(total))
        return Page(await self._many([int(n) for n in numbers]), page, pages, int(total))

    async def newest(self, count: int = 25) -> list[Discovery]:
        """The latest published discoveries (slash-command autocomplete)."""
        numbers = [
            int(text(n)) for n in await self.redis.zrevrange(keys.DISCOVERIES_NEW, 0, count - 1)
        ]
        return await self._many(numbers)

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
