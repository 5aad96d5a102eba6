"""Sharing a reading as a discovery, and having a worker verify it.

A share reads the tuple through the queue (usually a cached reading), records it with the
filter of the server it is shared in, and starts its verification: a worker reads the tuple
again from its address (a fresh job, `Job.reread`), and `record_reread` marks the discovery
verified or flagged. The verification is tried until it has a verdict; `settle` lets a
closing front end wait a bounded time for those in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from babel_core import jobs
from babel_core.edition import DEFAULT_PROMPT
from babel_core.errors import LibraryError

from .. import reply as r
from ..actor import Actor
from ..catalogue.discovery_records import PUBLISHED, ref
from ..catalogue.services import Catalogue
from ..catalogue.wordfilter import WordFilter
from ..server_settings import ServerSettings
from . import catalog as c
from . import catalogue_replies as cr
from .arguments import CommandError
from .memory import Memory
from .parse import Parser
from .queued import REDIS_DOWN, Queued

log = logging.getLogger(__name__)

VERIFIER = "catalogue-verify"  # the requester of verification re-reads
VERIFY_PAUSE_S = 60.0  # the longest pause between tries of a share's verification


class Sharing:
    def __init__(
        self,
        catalogue: Catalogue,
        client,
        queued: Queued,
        memory: Memory,
        parser: Parser,
        keep: Callable[[str, str], Awaitable[None]],
    ):
        self.catalogue = catalogue
        self.client = client
        self.queued = queued
        self.memory = memory
        self.parser = parser
        self.keep = keep  # pins a found volume's slip for a discovery (runner.keep)
        self.verifying: set[asyncio.Task] = set()

    async def share(self, command: c.Share, actor: Actor, server: ServerSettings) -> r.Reply:
        """Share what the command names (or the actor's last reading), with the filter of
        the server it is shared in; verification starts in the background."""
        cat = self.catalogue
        if command.address:
            address, prompt = (
                await self.catalogue.bookmarks.resolve(command.address, actor),
                DEFAULT_PROMPT,
            )
        else:
            last = await self.memory.last(actor.user_id)
            if last is None:
                raise CommandError(
                    "You have not read a volume yet, so there is nothing to share: read one, or "
                    f"give its address: {self.parser.example('share')}"
                )
            address, prompt = last
        job = jobs.Job.read(address, command.prompt or prompt, edition=self.queued.edition.id)
        result = await self.queued.fetch(job, actor)
        if not result.ok:
            return r.error(result.error)
        shared = await cat.discoveries.share(
            actor,
            self.queued.edition,
            job.address,
            job.prompt,
            job.max_tokens,
            result,
            command.title,
            WordFilter(server.filter_words),
        )
        d = shared.discovery
        if not shared.new:
            d = await cat.discoveries.show(d.number, actor)  # refuses what is not for them
            said = f"This reading was already shared as {d.ref} by {d.finder_name}."
        elif d.status == PUBLISHED:
            said = f"Shared as {d.ref}. A worker reads it once more to verify it."
        else:
            said = f"Shared as {d.ref}; it waits for a moderator's review before others see it."
        if shared.new:
            await self.keep(d.address, f"discovery:{d.ref}")
            task = asyncio.get_running_loop().create_task(self.verify(d.number, job))
            self.verifying.add(task)
            task.add_done_callback(self.verifying.discard)
        return cr.discovery(d, actor.user_id, said, moderator=actor.moderates(d.guild_id))

    async def verify(self, n: int, job: jobs.Job) -> str:
        """Have a worker read a shared tuple again from its address (a fresh job: no cache
        answers) and record the verdict. Tried again, with a pause doubling up to a minute,
        until there is a verdict: while the job is lost, the queue unreachable, or the worker
        answers with a passing failure (time limit, memory); a refusal is recorded as it is."""
        attempt = 0
        while True:
            try:
                result = await self.client.request(
                    job.reread(), VERIFIER, timeout=self.queued.timeout_s, resubmit=3
                )
                if result.ok or result.error_kind in (jobs.REFUSED, jobs.DEAD):
                    return await self.catalogue.discoveries.record_reread(n, result)
                problem = result.error
            except (LibraryError, *REDIS_DOWN) as e:
                problem = str(e)
            attempt += 1
            log.warning("verifying %s: %s (try %d)", ref(n), problem, attempt)
            await asyncio.sleep(min(VERIFY_PAUSE_S, 2.0**attempt))

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the verifications started so far (the console, the bot and tests, before
        closing); after `timeout`, stop waiting: the discoveries left stay pending."""
        try:
            async with asyncio.timeout(timeout):
                while self.verifying:
                    await asyncio.gather(*self.verifying, return_exceptions=True)
        except TimeoutError:
            log.warning("%d verifications left pending", len(self.verifying))
            for task in list(self.verifying):
                task.cancel()
