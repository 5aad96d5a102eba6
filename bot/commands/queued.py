"""Work that goes through the queue to a worker: readings, pages and hunts, with their progress.

The runner (runner.py) hands a checked job here once the person's limits let it through. While
it waits, each job's progress reaches the front end as a ready reply (a place in line, a Cancel
button for its asker alone); the answer comes back drawn by replies.py. What a reading leaves
behind (the person's last volume, a prompt stored for the buttons) is saved here, before the
reply is drawn. Only the person who asked may cancel.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

import redis.exceptions

from babel_core import hunt as hunting
from babel_core import jobs, keys
from babel_core.client import Progress
from babel_core.edition import DEFAULT_MAX_TOKENS, FIND_DEFAULT_STEPS, Edition
from babel_core.errors import LibraryError
from babel_core.redis_conn import QueueUnreachable
from babel_core.settings import Settings

from .. import reply as r
from ..actor import Actor
from ..server_settings import ServerSettings
from . import replies
from .catalog import Find, Hunt
from .limits import Quotas
from .memory import Memory

log = logging.getLogger(__name__)

WAIT_MARGIN_S = 30.0  # a requester waits this much longer than a job's own time limit
# what an unreachable Redis raises, however it is reached
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, QueueUnreachable)
OnProgress = Callable[[r.Reply], Awaitable[None]]


class Queued:
    """Readings, pages and hunts through one LibraryClient, each counted against today's
    quotas before it is queued."""

    def __init__(
        self, settings: Settings, edition: Edition, client, memory: Memory, quotas: Quotas
    ):
        self.settings = settings
        self.edition = edition
        self.client = client
        self.memory = memory
        self.quotas = quotas

    @property
    def timeout_s(self) -> float:
        return self.settings.job_timeout_s + WAIT_MARGIN_S

    async def fetch(self, job: jobs.Job, actor: Actor, progress: OnProgress | None = None):
        """A job's result, reporting its place in line as a progress reply."""

        async def report(p: Progress) -> None:
            if progress is not None and p.position >= 0:  # -1: answered now, the reply follows
                await progress(replies.waiting(p, job, actor.user_id))

        return await self.client.request(job, actor.user_id, report, timeout=self.timeout_s)

    async def read(
        self, job: jobs.Job, actor: Actor, progress: OnProgress | None, server: ServerSettings
    ) -> r.Reply:
        """A reading or a page, answered as a reply; a reading is remembered as the person's
        last volume (for next and prev)."""
        await self.quotas.charge(actor, 1, server)
        result = await self.fetch(job, actor, progress)
        if not result.ok:
            return r.error(result.error)
        if job.kind == jobs.PAGE:  # drawn by a worker (it builds volumes): a PNG, base64
            return replies.page(self.edition, job.address, job.page, base64.b64decode(result.png))
        await self.memory.remember(actor.user_id, job.address, job.prompt)
        key = await self.memory.save_prompt(job.prompt)
        return replies.reading(result, self.edition, key, actor.user_id)

    async def hunt(
        self,
        command: Hunt,
        prompt: str,
        actor: Actor,
        progress: OnProgress | None,
        server: ServerSettings,
    ) -> r.Reply:
        """Hunt through the queue, sized by the person's role, the server's caps and the
        workers' devices."""
        gpu = await hunting.gpu_workers(self.client)
        caps = replace(
            self.settings, hunt_cap=server.hunt_cap, hunt_cap_moderator=server.hunt_cap_moderator
        )
        limits = hunting.limits(caps, gpu=gpu, moderator=actor.may_moderate_here)
        count, notes = command.count or limits.default, []
        if count > limits.cap:
            where = "" if limits.gpu else " while the library's workers have no GPU"
            notes.append(f"⚠️ You may hunt up to {limits.cap:,} volumes at once{where}.")
            count = limits.cap
        await self.quotas.charge(actor, count, server)
        plan = hunting.Hunt.new(
            count, prompt, DEFAULT_MAX_TOKENS, self.edition.id, command.score, command.top
        )

        async def report(p: hunting.HuntProgress) -> None:
            if progress is not None:
                await progress(replies.hunting_progress(p, actor.user_id))

        stall = self.settings.job_timeout_s + WAIT_MARGIN_S
        outcome = await hunting.run(  # in this person's own line in this server's share
            self.client, plan, actor.user_id, report, stall_s=stall, server=actor.guild_id
        )
        key = await self.memory.save_prompt(prompt)
        return replies.hunt(outcome, key, notes, actor.user_id)

    async def find(
        self, command: Find, actor: Actor, progress: OnProgress | None, server: ServerSettings
    ) -> r.Reply:
        """Have a worker find the volume that answers the prompt as asked (docs/finding.md);
        its progress (step, loss) reaches the front end like a reading's place in line."""
        await self.quotas.charge(actor, 1, server)
        steps = command.steps or FIND_DEFAULT_STEPS
        job = jobs.Job.find([(command.prompt, command.answer)], steps, edition=self.edition.id)

        async def report(p: Progress) -> None:
            if progress is not None and p.position >= 0:
                await progress(replies.finding(p, command, actor.user_id))

        timeout = self.settings.find_timeout_s + WAIT_MARGIN_S
        result = await self.client.request(job, actor.user_id, report, timeout=timeout)
        if not result.ok:
            return r.error(result.error)
        key = await self.memory.save_prompt(command.prompt)
        return replies.found(result.found, self.edition, key, actor.user_id)

    async def cancel(self, job_id: str, owner: str, actor: Actor) -> r.Reply:
        """Withdraw a reading or a hunt no worker has finished, for its asker and nobody else."""
        if actor.user_id != owner:
            return r.error("Only the person who asked can cancel this.")
        if await self.client.r.exists(keys.hunt(job_id)):
            try:
                withdrawn = await hunting.cancel(self.client, job_id, actor.user_id)
            except hunting.HuntError as e:
                return r.error(str(e))
            if not withdrawn:
                return r.error("Too late to cancel: the workers already have every part of it.")
            parts = f"{withdrawn} part{'s' * (withdrawn != 1)}"
            return r.note(
                f"Cancelled: {parts} of the hunt will not be read; you get the best of what was."
            )
        try:
            done = await self.client.cancel(job_id, actor.user_id)
        except LibraryError as e:
            return r.error(str(e))
        if not done:
            return r.error("Too late to cancel: a worker has it already, or it is done.")
        return r.note("Cancelled.")
