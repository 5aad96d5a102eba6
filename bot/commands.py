"""The command core: every `!shelf` command answered, in plain Python.

The Discord adapter and the local console are thin front ends over `Shelf`: both hand it a
command and a `Requester`, both get back a `Reply` (bot/reply.py), so what works in one works
in the other. A `Shelf` parses and checks what was typed (bot/command_parse.py) before
anything reaches the queue, runs it here, and draws the answer (bot/command_replies.py).
Work that needs a worker goes through the queue's `LibraryClient`; per-person limits and
memory (bot/state.py) live in Redis, so any number of bot processes share them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

import redis.exceptions

from babel_core import jobs, keys
from babel_core.edition import DEFAULT_PROMPT, get_edition
from babel_core.errors import LibraryError
from babel_core.redis_conn import QueueUnreachable
from babel_core.settings import Settings

from . import reply as r
from .catalogue_answers import Catalogue
from .command_parse import Command, CommandError, CommandParser
from .command_replies import CommandReplies
from .hunting import Hunts
from .state import Limits, UserState, seconds_left
from .waiting import OnProgress, Waiting

log = logging.getLogger(__name__)

WAIT_MARGIN_S = 30.0  # a requester waits this much longer than a job's own time limit


@dataclass(frozen=True)
class Requester:
    """Who asked, and where (ids as strings; guild and channel are "" outside Discord)."""

    user_id: str
    name: str = ""
    guild_id: str = ""
    channel_id: str = ""
    is_moderator: bool = False  # may moderate guild_id (the adapter decides)
    is_owner: bool = False  # the console's user; Discord owners come from settings.owner_ids


class Shelf(CommandParser, CommandReplies):
    """Answers commands for one edition of the library; it parses them as a CommandParser and
    draws its replies as a CommandReplies.

    invocation is how a command is typed in this front end ("!shelf " on Discord, "" in the
    console); it only changes the examples in replies.
    """

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
        self.client = client
        self.invocation = invocation
        self.rng = rng
        self.limits = Limits(
            redis, settings.cooldown_s, settings.max_jobs_per_user, settings.job_timeout_s, clock
        )
        self.state = UserState(redis, self.edition.id)
        self.redis = redis
        self.catalogue = Catalogue(settings, redis, client, self.edition, invocation, clock)
        self.hunts = Hunts(settings, client, self.edition, invocation)

    async def handle(
        self, text: str, who: Requester, on_progress: OnProgress | None = None
    ) -> r.Reply:
        """Parse and run one command; every failure becomes an error reply."""
        try:
            command = self.parse(text)
        except CommandError as e:
            return r.error(str(e))
        return await self.run(command, who, on_progress)

    async def run(
        self, command: Command, who: Requester, on_progress: OnProgress | None = None
    ) -> r.Reply:
        """Answer a checked command. Never raises for a person's mistake or an outage."""
        try:
            if command.name == "help":
                return self.help(command.topic)
            if command.name == "about":
                return self.about()
            actor = self.catalogue.actor(who)
            await self.catalogue.check(actor)  # a banned person is refused here, politely
            if command.ask is not None:
                last = partial(self.state.last, who.user_id)
                return await self.catalogue.run(
                    command.ask, actor, partial(self._reading, who), last
                )
            if command.bookmark:
                found = await self.catalogue.resolve(command.bookmark, who.user_id)
                command = replace(command, address=self._address(command.name, found))
            if command.name == "hunt":
                prompt = self._or_default(command)
                return await self._limited(
                    who,
                    lambda: self.hunts.run(command.hunt, prompt, actor, on_progress, self.state),
                )
            job = await self._job(command, who)
            return await self._limited(who, lambda: self._read(job, who, on_progress))
        except LibraryError as e:
            return r.error(str(e))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            log.warning("Redis unreachable while answering %s: %s", command.name, e)
            return r.error(str(QueueUnreachable()))

    async def _job(self, command: Command, who: Requester) -> jobs.Job:
        edition = self.edition.id
        if command.name == "read":
            return jobs.Job.read(str(command.address), self._or_default(command), edition=edition)
        if command.name == "random":
            return jobs.Job.random(self._or_default(command), edition=edition, rng=self.rng)
        if command.name == "page":
            return jobs.Job.draw(str(command.address), command.page, edition=edition)
        last = await self.state.last(who.user_id)
        if last is None:
            raise CommandError(
                f"You have not read a volume yet, so there is no {command.name} one. Start with "
                f"{self.example('read')} or {self.invocation}random."
            )
        step = self.neighbour(command.name, last[0], command.prompt or last[1])
        return jobs.Job.read(str(step.address), step.prompt, edition=edition)

    async def step(self, direction: str, address: str, prompt_key: str) -> Command:
        """The Previous / Next buttons: the neighbour of `address`, with a stored prompt."""
        try:
            prompt = await self.state.prompt(prompt_key)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise CommandError(str(QueueUnreachable())) from None
        return self.neighbour(direction, address, prompt)

    @staticmethod
    def _or_default(command: Command) -> str:
        return DEFAULT_PROMPT if command.prompt is None else command.prompt

    async def _limited(self, who: Requester, work: Callable[[], Awaitable[r.Reply]]) -> r.Reply:
        """Do work() within the person's limits (cooldown, requests in flight), or refuse."""
        token = uuid.uuid4().hex
        verdict = await self.limits.acquire(who.user_id, token)
        if not verdict.ok:
            if verdict.wait_s:
                wait = seconds_left(verdict.wait_s)
                return r.error(
                    f"Slow down: you can ask the library again in {wait} s.", private=True
                )
            n = verdict.in_flight
            return r.error(
                f"You already have {n} request{'s' * (n != 1)} in progress, the most at once. "
                "Wait for one to finish, or cancel it.",
                private=True,
            )
        renewing = asyncio.create_task(self._hold(who.user_id, token))
        try:
            return await work()
        finally:
            renewing.cancel()
            await self.limits.release(who.user_id, token)

    async def _hold(self, user_id: str, token: str) -> None:
        """Renew a slot every third of its hold time while its work runs (a hunt can run for
        many job time limits)."""
        while True:
            await asyncio.sleep(self.limits.hold_ms / 3000)
            try:
                await self.limits.renew(user_id, token)
            except redis.exceptions.RedisError as e:  # the work itself will say Redis is gone
                log.warning("could not renew %s's slot: %s", user_id, e)

    async def _reading(self, who: Requester, job: jobs.Job) -> jobs.Result:
        """A job's result, within the person's limits (a catalogue share reads this way)."""
        timeout = self.settings.job_timeout_s + WAIT_MARGIN_S
        outcome = await self._limited(
            who, lambda: self.client.request(job, who.user_id, timeout=timeout)
        )
        if isinstance(outcome, r.Reply):  # refused: cooldown or too many in flight
            raise CommandError(outcome.description)
        return outcome

    async def _read(self, job: jobs.Job, who: Requester, on_progress: OnProgress | None):
        report = None
        if on_progress is not None:

            async def report(progress) -> None:
                if progress.position >= 0:  # -1: answered just now, the reply follows
                    waiting = Waiting(
                        progress.job_id,
                        job.address,
                        progress.position,
                        progress.workers,
                        who.user_id,
                        doing=f"Drawing page {job.page}" if job.kind == jobs.PAGE else "Reading",
                    )
                    await on_progress(waiting)

        result = await self.client.request(
            job, who.user_id, report, timeout=self.settings.job_timeout_s + WAIT_MARGIN_S
        )
        if not result.ok:
            return r.error(result.error)
        if job.kind == jobs.PAGE:  # drawn by a worker (it builds volumes): a PNG, base64
            return self.page_reply(job.address, job.page, base64.b64decode(result.png))
        await self.state.remember(who.user_id, job.address, job.prompt)
        return await self.reading_reply(result)

    async def cancel(self, job_id: str, owner: str, who: Requester) -> r.Reply:
        """Cancel a pending job (or hunt) for the person who asked for it, and for nobody else."""
        try:
            if await self.redis.exists(keys.hunt(job_id)):
                return await self.hunts.cancel(job_id, owner, who.user_id)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, QueueUnreachable):
            return r.error(str(QueueUnreachable()), private=True)
        if who.user_id != owner:
            return r.error("Only the person who asked can cancel this reading.", private=True)
        try:
            done = await self.client.cancel(job_id, who.user_id)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, LibraryError):
            return r.error(str(QueueUnreachable()), private=True)
        if not done:
            return r.error(
                "Too late to cancel: a worker is already reading it (or it is done).", private=True
            )
        return r.Reply(r.INFO, "Cancelled.", private=True)
