"""The catalogue's commands answered, for the command core: share, browse, vote, bookmarks,
moderation.

`Catalogue` is an `AskParser` (bot/catalogue_parse.py: what people type, checked before
anything touches Redis); `Catalogue.run` answers a checked `Ask` with a `Reply`, using the
services of bot/catalogue/ (discoveries.py, bookmarks.py and moderation.py), and draws
listings with bot/catalogue_replies.py. The command core (bot/commands.py) dispatches here and hands
over an `Actor`. Sharing reads the tuple through the queue (usually a cached reading),
records it, and starts the verification: a worker reads the tuple again from its address (a
fresh job, `Job.reread`); `record_reread` marks the discovery verified or flagged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from babel_core import jobs
from babel_core.edition import DEFAULT_PROMPT, Edition
from babel_core.settings import Settings

from . import keys
from . import reply as r
from .actor import Actor
from .catalogue.bookmarks import Bookmarks
from .catalogue.discoveries import Discoveries
from .catalogue.discovery_records import (
    FLAGGED,
    MINE,
    NEW,
    PUBLISHED,
    TOP,
    USER,
    VERIFIED,
    Discovery,
    parse_id,
    ref,
)
from .catalogue.durable import Durability, text
from .catalogue.moderation import Moderation
from .catalogue.moderation_records import BAN
from .catalogue.wordfilter import WordFilter
from .catalogue_parse import Ask, AskParser, CatalogueError
from .catalogue_replies import (
    ban_line,
    discovery_field,
    log_line,
    n_votes,
    page_buttons,
    queue_field,
    when,
)

log = logging.getLogger(__name__)

VERIFY_TIMEOUT_S = 600.0
VERIFIER = "catalogue-verify"  # the requester of verification re-reads
_MENTION = re.compile(r"<@!?([0-9A-Za-z_-]{1,40})>|([0-9]{5,20})")

Reader = Callable[[jobs.Job], Awaitable[jobs.Result]]
Last = Callable[[], Awaitable[tuple[str, str] | None]]


class Catalogue(AskParser):
    """The catalogue commands on one Redis. `open()` (async) detects how writes are made
    durable before the first command."""

    def __init__(
        self,
        settings: Settings,
        redis,
        client,
        edition: Edition,
        invocation: str = "!shelf ",
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.redis = redis
        self.client = client
        self.edition = edition
        self.invocation = invocation
        self.clock = clock
        self.owners = frozenset(settings.owner_ids)
        self.durable: Durability | None = None
        self.verifying: set[asyncio.Task] = set()

    async def open(self) -> Catalogue:
        if self.durable is None:
            self.durable = await Durability.detect(self.redis)
            words = WordFilter(self.settings.filter_words)
            self.discoveries = Discoveries(self.redis, self.durable, words, self.clock)
            self.bookmarks = Bookmarks(self.redis, self.durable, words, self.clock)
            self.moderation = Moderation(self.redis, self.durable, tuple(self.owners), self.clock)
        return self

    async def settle(self) -> None:
        """Wait for the verifications started so far (the console and tests, before closing)."""
        while self.verifying:
            await asyncio.gather(*self.verifying, return_exceptions=True)

    def actor(self, who) -> Actor:
        """The Actor for a command core Requester; owners are settings.owner_ids (and the
        console's user)."""
        owner = who.is_owner or who.user_id in self.owners
        return Actor(who.user_id, who.name or who.user_id, who.guild_id, who.is_moderator, owner)

    # -- answering -----------------------------------------------------------------------

    async def resolve(self, address: str, user_id: str) -> str:
        """An address as typed, or the one a @bookmark names."""
        await self.open()
        return await self.bookmarks.resolve(address, user_id)

    async def check(self, actor: Actor) -> None:
        """Refuse a banned person (raises moderation.Banned)."""
        await self.open()
        await self.moderation.check(actor)

    async def run(self, ask: Ask, actor: Actor, read: Reader, last: Last) -> r.Reply:
        await self.open()
        if ask.name == "share":
            return await self._share(ask, actor, read, last)
        if ask.name == "show":
            return self.discovery_reply(
                await self.discoveries.show(parse_id(ask.target), actor), actor
            )
        if ask.name in ("vote", "unvote"):
            n = parse_id(ask.target)
            cast = self.discoveries.vote if ask.name == "vote" else self.discoveries.unvote
            votes = await cast(actor, n)
            done = "Voted for" if ask.name == "vote" else "Took back your vote for"
            return r.Reply(r.INFO, f"{done} {ref(n)}: it has {n_votes(votes)}.", private=True)
        if ask.name == "discoveries":
            return await self._browse(ask, actor)
        if ask.name == "leaders":
            return await self._leaders(ask)
        if ask.name == "report":
            await self.moderation.report(actor, ask.target, ask.text)
            return r.Reply(
                r.INFO,
                f"Thank you: this server's moderators will look at {ask.target}.",
                private=True,
            )
        if ask.name == "bookmark":
            address = await self.bookmarks.resolve(ask.text, actor.user_id)
            mark, new = await self.bookmarks.create(actor, ask.target, address)
            said = "now stands for" if new else "now points to"
            held = (
                " It waits for a moderator's review before others can use it."
                if mark.status != PUBLISHED
                else ""
            )
            return r.Reply(
                r.INFO,
                f"{mark.ref} {said} {mark.address}: {self.invocation}read {mark.ref}.{held}",
            )
        if ask.name == "bookmarks":
            return await self._bookmarks(ask, actor)
        if ask.name == "unbookmark":
            mark = await self.bookmarks.remove(actor, ask.target)
            return r.Reply(
                r.INFO, f"Removed {mark.ref} (it stood for {mark.address}).", private=True
            )
        return await self._moderate(ask, actor)

    async def _share(self, ask: Ask, actor: Actor, read: Reader, last: Last) -> r.Reply:
        if ask.target:
            address = await self.bookmarks.resolve(ask.target, actor.user_id)
            prompt = ask.text or DEFAULT_PROMPT
        else:
            found = await last()
            if found is None:
                raise CatalogueError(
                    "You have not read a volume yet, so there is nothing to share: read one, or "
                    f"give its address: {self.example('share')}"
                )
            address, prompt = found
            if ask.text:
                prompt = ask.text
        job = jobs.Job.read(address, prompt, edition=self.edition.id)
        result = await read(job)
        if not result.ok:
            return r.error(result.error)
        shared = await self.discoveries.share(
            actor, self.edition, job.address, job.prompt, job.max_tokens, result, ask.title
        )
        d = shared.discovery
        if not shared.new:
            said = f"This reading was already shared as {d.ref} by {d.finder_name}."
        elif d.status == PUBLISHED:
            said = f"Shared as {d.ref}. A worker reads it once more to verify it."
            self._verify_later(d.number, job)
        else:
            said = f"Shared as {d.ref}; it waits for a moderator's review before others see it."
            self._verify_later(d.number, job)
        return self.discovery_reply(d, actor, said)

    def _verify_later(self, n: int, job: jobs.Job) -> None:
        task = asyncio.get_running_loop().create_task(self.verify(n, job))
        self.verifying.add(task)
        task.add_done_callback(self.verifying.discard)

    async def verify(self, n: int, job: jobs.Job) -> str:
        """Have a worker read the tuple again from its address (a fresh job: no cache answers,
        and the stored reading stays as it is) and record the verdict.

        Tried until it has an answer: a job the queue lost is submitted again (JobLost), and
        anything else that leaves it without one (Redis away, the queue full, no answer in
        VERIFY_TIMEOUT_S, a verdict that could not be saved durably) is tried again after a
        pause that doubles from 1 s up to 60 s. An error answer is an answer: the discovery
        stays pending, for a moderator to see.
        """
        import redis  # local: this function is all that changed here (issue 11)

        from babel_core.errors import LibraryError

        from .catalogue.discovery_records import DiscoveryError

        reread, pause = job.reread(), 1.0
        while True:
            try:
                result = await self.client.request(
                    reread, VERIFIER, timeout=VERIFY_TIMEOUT_S, resubmit=3
                )
                return await self.discoveries.record_reread(n, result)
            except DiscoveryError:  # no such discovery: nothing to verify
                log.exception("verifying %s failed", ref(n))
                return "pending"
            except (LibraryError, redis.RedisError, OSError) as e:
                log.warning("verifying %s: %s; trying again in %.0f s", ref(n), e, pause)
            except Exception:  # a bug: the discovery stays pending; a moderator can see that
                log.exception("verifying %s failed", ref(n))
                return "pending"
            await asyncio.sleep(pause)
            pause = min(60.0, pause * 2)

    async def _browse(self, ask: Ask, actor: Actor) -> r.Reply:
        user = await self.person(ask.target) if ask.sub == USER else None
        page = await self.discoveries.browse(ask.sub, actor, ask.page, user)
        headings = {TOP: "Most votes", NEW: "Newest", MINE: "Your discoveries"}
        heading = headings[ask.sub] if user is None else f"Found by {await self._name(user)}"
        fields = tuple(discovery_field(d, show_status=ask.sub == MINE) for d in page.items)
        empty = "Nothing here yet: read volumes, and share what you find." if not page.total else ""
        more = f"discoveries {ask.target or ask.sub}"
        return r.Reply(
            r.INFO,
            empty or f"{page.total} in all · {self.invocation}show <id> to read one",
            title=f"{heading} · page {page.page} of {page.pages}",
            fields=fields,
            buttons=page_buttons(more, page.page, page.pages),
        )

    async def _leaders(self, ask: Ask) -> r.Reply:
        page = await self.discoveries.leaderboard(ask.page)
        lines = [f"{f.rank}. {f.name}: {n_votes(f.votes)} on {f.finds} found" for f in page.items]
        return r.Reply(
            r.INFO,
            "\n".join(lines) or "Nobody has shared a discovery yet.",
            title=f"Finders · page {page.page} of {page.pages}",
            buttons=page_buttons("leaders", page.page, page.pages),
        )

    async def _bookmarks(self, ask: Ask, actor: Actor) -> r.Reply:
        user = await self.person(ask.target) if ask.sub == USER else actor.user_id
        page = await self.bookmarks.listing(actor, user, ask.page)
        own = user == actor.user_id
        lines = [
            f"{b.ref} → {b.address}" + ("" if b.status == PUBLISHED else f" ({b.status})")
            for b in page.items
        ]
        whose = "Your bookmarks" if own else f"Bookmarks of {await self._name(user)}"
        empty = f"None yet: {self.example('bookmark')}" if own else "None yet."
        return r.Reply(
            r.INFO,
            "\n".join(lines) or empty,
            title=f"{whose} · page {page.page} of {page.pages}",
        )

    async def _moderate(self, ask: Ask, actor: Actor) -> r.Reply:
        m = self.moderation
        if ask.sub == "queue":
            page = await m.queue(actor, ask.page)
            fields = tuple(queue_field(e) for e in page.items)
            return r.Reply(
                r.INFO,
                f"{page.total} waiting" if page.total else "Nothing waits for review.",
                title=f"Review queue · page {page.page} of {page.pages}",
                fields=fields,
                private=True,
            )
        if ask.sub == "log":
            page = await m.log(actor, ask.page)
            lines = [log_line(e) for e in page.items]
            return r.Reply(
                r.INFO,
                "\n".join(lines) or "No moderation yet.",
                title=f"Mod log · page {page.page} of {page.pages}",
                private=True,
            )
        if ask.sub == "bans":
            bans = await m.bans(actor)
            lines = [ban_line(uid, b) for uid, b in bans]
            return r.Reply(
                r.INFO, "\n".join(lines) or "Nobody is banned.", title="Bans", private=True
            )
        if ask.sub in (BAN, "unban"):
            await m.require_moderator(actor, ask.sub, ask.target)  # before looking anyone up
            user = await self.person(ask.target)
            name = await self._name(user)
            if ask.sub == BAN:
                where = await m.ban(actor, user, name, ask.text, ask.everywhere)
            else:
                where = await m.unban(actor, user, name, ask.everywhere)
            scope = "everywhere" if where == keys.BAN_EVERYWHERE else "in this server"
            verb = "is banned" if ask.sub == BAN else "is no longer banned"
            return r.Reply(r.INFO, f"{name} {verb} {scope}.", private=True)
        action = {"hide": m.hide, "restore": m.restore, "delete": m.delete}[ask.sub]
        item = await action(actor, ask.target, ask.text)
        return r.Reply(r.INFO, f"{item.ref} is now {item.status}.", private=True)

    # -- people --------------------------------------------------------------------------

    async def person(self, typed: str) -> str:
        """A user id from a mention (<@123>), an id, or @name (a name the catalogue knows)."""
        found = _MENTION.fullmatch(typed.strip())
        if found:
            return found[1] or found[2]
        wanted = typed.strip().removeprefix("@").casefold()
        names = await self.redis.hgetall(keys.USER_NAMES)
        matches = sorted(text(u) for u, n in names.items() if text(n).casefold() == wanted)
        if len(matches) != 1:
            raise CatalogueError(
                f"I don't know who {typed.strip()!r} is: mention them (@name in Discord) "
                "or give their user id"
            )
        return matches[0]

    async def _name(self, user_id: str) -> str:
        name = await self.redis.hget(keys.USER_NAMES, user_id)
        return text(name) if name is not None else user_id

    # -- replies -------------------------------------------------------------------------

    def discovery_reply(self, d: Discovery, viewer: Actor, said: str = "") -> r.Reply:
        checked = {VERIFIED: "verified ✓", FLAGGED: "re-read differs ⚠"}.get(
            d.verification, "not yet"
        )
        fields = [
            r.Field("Address", d.address),
            r.Field("Prompt", d.prompt, inline=False),
            r.Field("Found by", d.finder_name),
            r.Field("Votes", str(d.votes)),
            r.Field("Fingerprint", d.fingerprint),
            r.Field("Verified", checked),
        ]
        if d.status != PUBLISHED:
            why = f" ({d.reason})" if d.reason else ""
            fields.append(r.Field("Status", f"{d.status}{why}", inline=False))
        if said:
            fields.insert(0, r.Field("Shared", said, inline=False))
        buttons = ()
        if d.status == PUBLISHED and d.finder_id != viewer.user_id:
            buttons = (r.Button(r.VOTE, f"▲ Vote ({d.votes})", target=d.ref),)
        return r.Reply(
            r.READING,
            d.text or "(nothing: this volume stops before its first word)",
            title=f"{d.ref} · {d.title or d.address}",
            fields=tuple(fields),
            footer=f"{d.edition} · shared {when(d.created)}",
            buttons=buttons,
            full_text_name=f"{d.ref}.txt",
        )
