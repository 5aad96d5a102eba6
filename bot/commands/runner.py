"""The runner: one checked command in, one reply out, whatever happens.

    runner = Runner(settings, redis, client, invocation="!shelf ")
    reply = await runner.run(parser.parse("read babel-w3-s2-v17 Hi"), actor, on_progress)

The console and the Discord front end both hand the runner a command value (catalog/) and an
`Actor` (bot/actor.py), and draw the `Reply` they get back. The runner holds its services by
composition (the queue's work in queued.py, the catalogue's services, per-person limits and
memory) and dispatches with one `match`. It checks bans and limits first (`admitted` tells a
front end the command is going ahead, so it can acknowledge it), saves what the command leaves
behind, and turns every failure (a person's mistake, an outage, a bug) into an error reply:
`run` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.exceptions

from babel_core import jobs
from babel_core.address import is_handle, parse_address
from babel_core.edition import DEFAULT_PROMPT, get_edition
from babel_core.errors import LibraryError
from babel_core.redis_conn import QueueUnreachable
from babel_core.settings import Settings
from babel_core.slipstore import SlipStore, open_store

from .. import keys
from .. import reply as r
from ..actor import Actor
from ..catalogue.bookmarks import BookmarkError
from ..catalogue.discovery_records import MINE, NEW, PUBLISHED, TOP, USER, ref
from ..catalogue.services import Catalogue
from ..catalogue.wordfilter import WordFilter
from ..server_settings import Servers, ServerSettings
from . import catalog as c
from . import catalogue_replies as cr
from . import replies
from .arguments import CommandError, Context
from .catalog import FIND, READS, Command
from .limits import Limits, Quotas, Verdict
from .memory import Memory
from .moderating import Moderating
from .parse import Parser
from .queued import REDIS_DOWN, OnProgress, Queued
from .sharing import Sharing

log = logging.getLogger(__name__)

OOPS = "Something went wrong on the library's side; it has been logged. Please try again."
NO_DMS = "The library does not answer direct messages: ask in a server it is in."


class Runner:
    """Answers commands for one edition of the library. `invocation` is how commands are typed
    in the front end ("!shelf ", or "" in the console): it only changes examples."""

    def __init__(
        self,
        settings: Settings,
        redis,
        client,
        *,
        invocation: str = "!shelf ",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.settings = settings
        self.edition = get_edition(settings.edition)
        self.invocation = invocation
        self.rng = rng
        self.redis = redis
        self.client = client
        self.parser = Parser(Context(settings, self.edition, invocation))
        self.servers = Servers(settings, redis, clock)
        self.limits = Limits(redis, settings, clock)
        self.quotas = Quotas(redis, clock)
        self.memory = Memory(redis, self.edition.id)
        self.queued = Queued(settings, self.edition, client, self.memory, self.quotas)
        self.catalogue = Catalogue(settings, redis, clock)
        self.moderating = Moderating(self.catalogue)
        self.sharing = Sharing(
            self.catalogue, client, self.queued, self.memory, self.parser, self.keep
        )

    async def handle(self, text: str, actor: Actor, progress: OnProgress | None = None) -> r.Reply:
        """Parse a typed line and run it (the console's way)."""
        try:
            command = self.parser.parse(text)
        except CommandError as e:
            return r.error(str(e))
        return await self.run(command, actor, progress)

    async def run(
        self,
        command: Command,
        actor: Actor,
        progress: OnProgress | None = None,
        *,
        admitted: Callable[[], Awaitable[None]] | None = None,
        slash: bool = False,
    ) -> r.Reply:
        """Answer a checked command. Never raises: every failure is an error reply."""
        token = uuid.uuid4().hex
        cost = command.spec.cost
        try:
            try:
                server = await self.servers.get(actor.guild_id)
                actor = await self.catalogue.admit(actor)  # refuses the banned
                verdict = await self.limits.admit(actor, cost, token, server)
            except REDIS_DOWN:
                if not command.spec.offline:
                    raise
                # help needs no Redis: it answers while Redis is down
                server, verdict = self.servers.defaults, Verdict(True)
            if not (actor.guild_id or server.dms or actor.is_owner):
                return r.error(NO_DMS)
            if not verdict.ok:
                return r.error(verdict.message, quiet=verdict.quiet)
            if admitted is not None:
                await admitted()
            if cost not in (READS, FIND):
                return await self._answer(command, actor, _guarded(progress), slash, server)
            holding = asyncio.create_task(self._hold(actor, token))
            try:
                return await self._answer(command, actor, _guarded(progress), slash, server)
            finally:
                holding.cancel()
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self.limits.release(actor, token)
        except LibraryError as e:
            return r.error(str(e))
        except REDIS_DOWN as e:
            log.warning("Redis unreachable while answering %s: %s", command.spec.name, e)
            return r.error(str(QueueUnreachable()))
        except Exception:
            log.exception("answering %r failed", command)
            return r.error(OOPS)

    async def _hold(self, actor: Actor, token: str) -> None:
        """Renew a slot every third of its hold time while its work runs (a hunt can run for
        many job time limits)."""
        while True:
            await asyncio.sleep(self.limits.hold_ms / 3000)
            try:
                await self.limits.renew(actor, token)
            except redis.exceptions.RedisError as e:  # the work itself will say Redis is gone
                log.warning("could not renew %s's slot: %s", actor.user_id, e)

    async def _answer(
        self, command: Command, actor: Actor, progress, slash: bool, server: ServerSettings
    ) -> r.Reply:
        edition, cat = self.edition.id, self.catalogue
        match command:
            case c.Help(topic=topic):
                return replies.help_for(topic, self.invocation, slash, self.settings, self.edition)
            case c.About():
                return replies.about(self.edition)
            case c.Read(address=address, prompt=prompt):
                where = await self._resolve(address, actor)
                job = jobs.Job.read(where, prompt or DEFAULT_PROMPT, edition=edition)
                return await self.queued.read(job, actor, progress, server)
            case c.Random(prompt=prompt):
                job = jobs.Job.random(prompt or DEFAULT_PROMPT, edition=edition, rng=self.rng)
                return await self.queued.read(job, actor, progress, server)
            case c.Next(prompt=prompt) | c.Prev(prompt=prompt):
                last = await self.memory.last(actor.user_id)
                if last is None:
                    raise CommandError(
                        f"You have not read a volume yet, so there is no {command.spec.name} "
                        f"one. Start with {self.parser.example('read')} or "
                        f"{self.invocation}random."
                    )
                step = await self.neighbour(command.spec.name, last[0], prompt or last[1])
                job = jobs.Job.read(step.address, step.prompt, edition=edition)
                return await self.queued.read(job, actor, progress, server)
            case c.Page(address=address, page=number):
                job = jobs.Job.draw(await self._resolve(address, actor), number, edition=edition)
                return await self.queued.read(job, actor, progress, server)
            case c.Find():
                return await self.queued.find(command, actor, progress, server)
            case c.Hunt(prompt=prompt):
                return await self.queued.hunt(
                    command, prompt or DEFAULT_PROMPT, actor, progress, server
                )
            case c.Share():
                return await self.sharing.share(command, actor, server)
            case c.Show(id=n):
                d = await cat.discoveries.show(n, actor)
                return cr.discovery(d, actor.user_id, moderator=actor.moderates(d.guild_id))
            case c.Vote(id=n):
                votes = await cat.discoveries.vote(actor, n)
                return r.note(f"Voted for {ref(n)}: it has {cr.n_votes(votes)}.")
            case c.Unvote(id=n):
                votes = await cat.discoveries.unvote(actor, n)
                return r.note(f"Took back your vote for {ref(n)}: it has {cr.n_votes(votes)}.")
            case c.Discoveries(view=view, person=person, page=number):
                user, name = (await cat.person(person.user_id, person.name)) if person else ("", "")
                listed = USER if user else view or TOP
                found = await cat.discoveries.browse(listed, actor, number, user or None)
                headings = {TOP: "Most votes", NEW: "Newest", MINE: "Your discoveries"}
                heading = headings.get(listed) or f"Found by {name}"
                mine = listed == MINE or user == actor.user_id
                return cr.discoveries(command, found, heading, mine, self.invocation)
            case c.Leaders(page=number):
                return cr.leaders(command, await cat.discoveries.leaderboard(number))
            case c.Report(item=item, reason=reason):
                reports = await cat.moderation.report(actor, item, reason)
                if server.review_channel:
                    await self._notice(server, item, actor, reason, reports)
                return r.note(f"Thank you: this server's moderators will look at {item}.")
            case c.Bookmark(name=name, address=address):
                return await self._bookmark(name, address, actor, server)
            case c.Bookmarks(person=person, page=number):
                user, name = (await cat.person(person.user_id, person.name)) if person else ("", "")
                own = user in ("", actor.user_id)
                found = await cat.bookmarks.listing(actor, user or actor.user_id, number)
                whose = "Your bookmarks" if own else f"Bookmarks of {name}"
                return cr.bookmarks(command, found, whose, own, self.parser.example("bookmark"))
            case c.Unbookmark(name=name):
                mark = await cat.bookmarks.remove(actor, name)
                await self.keep(mark.address, f"bookmark:{mark.ref}", kept=False)
                return r.note(f"Removed {mark.ref} (it stood for {mark.address}).")
            case (
                c.ModQueue()
                | c.ModHide()
                | c.ModRestore()
                | c.ModDelete()
                | c.ModBan()
                | c.ModUnban()
                | c.ModLog()
                | c.ModBans()
                | c.ModGrant()
                | c.ModRevoke()
            ):
                return await self.moderating.answer(command, actor)
            case c.Quota():
                return replies.quota(await self.quotas.usage(actor, server))
            case c.ConfigShow():
                return replies.config(server, self.servers.defaults, actor.guild_id)
            case c.ConfigSet(key=key, value=value):
                return await self._configure(actor, key, value)
            case c.ConfigReset(key=key):
                return await self._configure(actor, key, None)
        raise AssertionError(f"no case for {command!r}")  # every command in catalog/ has one

    # -- what several commands share

    async def _resolve(self, where: str, actor: Actor) -> str:
        """An address as checked by the parser, or the one a @bookmark names."""
        return await self.catalogue.bookmarks.resolve(where, actor)

    async def neighbour(self, direction: str, address: str, prompt: str) -> c.Read:
        """A reading of the volume after ("next") or before ("prev") an address; a found
        volume's neighbour is again a found volume (a slip of its own, made from its slip)."""
        delta = 1 if direction == "next" else -1
        if is_handle(address):
            there = (await asyncio.to_thread(self.slips.neighbour, address, delta)).handle
            return self.parser.build("read", {"address": there, "prompt": prompt})
        here = parse_address(address)
        if direction == "prev" and here.index == 0:
            raise CommandError(f"{here} is the first volume of the library: none comes before it.")
        there = str(here.neighbour(delta))
        return self.parser.build("read", {"address": there, "prompt": prompt})

    @functools.cached_property
    def slips(self) -> SlipStore:
        """Where found volumes' slips are (docs/finding.md), opened when first needed."""
        return open_store(self.settings)

    async def keep(self, address: str, holder: str, kept: bool = True) -> None:
        """Pin a found volume's slip while a discovery or bookmark (`holder`) names it, so the
        store's cap never evicts it (kept False: unpin); an address needs nothing."""
        if is_handle(address):
            change = self.slips.pin if kept else self.slips.unpin
            await asyncio.to_thread(change, address, holder)

    async def from_button(self, button: r.Button, clicker: Actor) -> Command:
        """The command a button under a reply stands for, when `clicker` clicks it."""
        match button.action:
            case r.PREV | r.NEXT:
                prompt = await self.memory.prompt(button.prompt_key)
                return await self.neighbour(button.action, button.address, prompt)
            case r.READ:
                prompt = await self.memory.prompt(button.prompt_key)
                return self.parser.build("read", {"address": button.address, "prompt": prompt})
            case r.SHARE:
                if button.owner and button.owner != clicker.user_id:
                    raise CommandError(
                        "Only the person who read this volume can share it from here: read it "
                        "yourself, then share it."
                    )
                prompt = await self.memory.prompt(button.prompt_key)
                return self.parser.build("share", {"address": button.address, "prompt": prompt})
            case r.VOTE:
                return self.parser.build("vote", {"id": button.target})
            case r.MORE:
                return self.parser.parse(button.target)
        raise CommandError("This button does nothing any more.")

    async def cancel(self, job_id: str, owner: str, actor: Actor) -> r.Reply:
        """Cancel a reading or hunt for the person who asked for it, and for nobody else."""
        try:
            return await self.queued.cancel(job_id, owner, actor)
        except REDIS_DOWN:
            return r.error(str(QueueUnreachable()))

    async def _notice(
        self, server: ServerSettings, ref: str, actor: Actor, reason: str, reports: int
    ) -> None:
        """Tell the server's review channel of a report (posted by a bot: review.py)."""
        found = await self.catalogue.moderation.item(ref)
        notice = dict(
            channel=server.review_channel,
            ref=ref,
            label=found.label,
            reporter=actor.name,
            reason=reason,
            reports=reports,
        )
        await self.redis.xadd(
            keys.NOTICES,
            {"notice": json.dumps(notice)},
            maxlen=keys.NOTICES_MAXLEN,
            approximate=True,
        )

    async def _configure(self, actor: Actor, key: str, value: str | None) -> r.Reply:
        old, new = await self.servers.change(self.catalogue.durable, actor, key, value)
        return r.note(f"{key}: {old} → {new}. It applies from the next command.")

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the shares' verifications in flight (sharing.py) before closing."""
        await self.sharing.settle(timeout)

    async def _bookmark(
        self, name: str, address: str, actor: Actor, server: ServerSettings
    ) -> r.Reply:
        cat = self.catalogue
        where = await self._resolve(address, actor)
        holder = f"bookmark:@{name}"
        try:
            before = (await cat.bookmarks.get(name)).address  # what @name stands for now
        except BookmarkError:
            before = None
        await self.keep(where, holder)  # first: a found volume whose slip is gone is refused
        try:
            mark, new = await cat.bookmarks.create(
                actor, name, where, WordFilter(server.filter_words)
            )
        except LibraryError:
            if before != where:  # the pin was ours alone: @name still names `before`
                await self.keep(where, holder, kept=False)
            raise
        if before is not None and before != where:  # pointed elsewhere: the old slip is free
            await self.keep(before, holder, kept=False)
        said = "now stands for" if new else "now points to"
        text = f"{mark.ref} {said} {mark.address}: {self.invocation}read {mark.ref}."
        if mark.status == PUBLISHED:
            return r.Reply(r.INFO, text)
        return r.note(text + " It waits for a moderator's review before others can use it.")


def _guarded(progress: OnProgress | None) -> OnProgress | None:
    """The front end's progress callback, made harmless: a progress message that cannot be
    shown (deleted, its token expired) must never stop the work it reports on."""
    if progress is None:
        return None

    async def report(reply: r.Reply) -> None:
        try:
            await progress(reply)
        except Exception:
            log.warning("could not show progress", exc_info=True)

    return report
