"""The command core: every `!shelf` command parsed, checked and answered, in plain Python.

The Discord adapter and the local console are thin front ends over `Shelf`: both hand it a
command and a `Requester`, both get back a `Reply` (bot/reply.py), so what works in one works
in the other. Everything a person can get wrong is refused here, with a message that says
what to type instead, before anything reaches the queue. Work that needs a worker goes
through the queue's `LibraryClient`; per-person limits and memory (bot/state.py) live in
Redis, so any number of bot processes share them.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

import redis.exceptions

from babel_core import jobs, keys
from babel_core.address import Address, AddressError, about_numbers, parse_address
from babel_core.edition import DEFAULT_PROMPT, HEAD, MAX_PROMPT_TOKENS, Edition, get_edition
from babel_core.errors import LibraryError
from babel_core.grid import N
from babel_core.page import PAGES, page_png, page_span
from babel_core.redis_conn import QueueUnreachable
from babel_core.settings import Settings

from . import reply as r
from .bookmarks import SIGIL, parse_name
from .catalogue import Catalogue
from .catalogue_parse import SPECS as CATALOGUE_SPECS
from .catalogue_parse import Ask
from .hunting import SPEC as HUNT_SPEC
from .hunting import HuntAsk, Hunts
from .state import Limits, UserState, seconds_left
from .waiting import OnProgress, Waiting

log = logging.getLogger(__name__)

EXAMPLE_ADDRESS = "babel-w3-s2-v17"
WAIT_MARGIN_S = 30.0  # a requester waits this much longer than a job's own time limit


class CommandError(LibraryError, ValueError):
    """A command that cannot be run as typed; the message is the reply the person sees."""


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    example: str


SPECS: dict[str, Spec] = {
    "read": Spec(
        "read <address> [prompt]",
        "Read the volume at an address, with your prompt or the default one.",
        f"read {EXAMPLE_ADDRESS} Once upon a time",
    ),
    "random": Spec(
        "random [prompt]",
        "Read a volume drawn at random from the near wing of the library.",
        "random Translate to German: the house is small",
    ),
    "next": Spec(
        "next [prompt]",
        "Read the volume after the last one you read, with the same prompt unless you give one.",
        "next",
    ),
    "prev": Spec(
        "prev [prompt]",
        "Read the volume before the last one you read, with the same prompt unless you give one.",
        "prev",
    ),
    "page": Spec(
        "page <address> <n>",
        f"See page n (1-{PAGES}) of a volume: a picture of its weights.",
        f"page {EXAMPLE_ADDRESS} 205",
    ),
    "hunt": Spec(*HUNT_SPEC),
    "about": Spec("about", "How big the library is and how its addresses work.", "about"),
    "help": Spec("help [command]", "This list, or more about one command.", "help hunt"),
}
SPECS.update({name: Spec(*spec) for name, spec in CATALOGUE_SPECS.items()})
QUEUED = ("read", "random", "next", "prev", "page", "hunt")  # commands that send work to a worker


@dataclass(frozen=True)
class Requester:
    """Who asked, and where (ids as strings; guild and channel are "" outside Discord)."""

    user_id: str
    name: str = ""
    guild_id: str = ""
    channel_id: str = ""
    is_moderator: bool = False  # may moderate guild_id (the adapter decides: bot/discord_app.py)
    is_owner: bool = False  # the console's user; Discord owners come from settings.owner_ids


@dataclass(frozen=True)
class Command:
    name: str
    address: Address | None = None
    prompt: str | None = None  # None: the default prompt (read, random) or the last one (next)
    page: int | None = None
    bookmark: str = ""  # read/page @name: resolved to `address` when the command runs
    ask: Ask | None = None  # a catalogue command (bot/catalogue.py)
    hunt: HuntAsk | None = None  # a hunt (bot/hunting.py)
    topic: str = ""  # help: the command to explain


_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}


def _unquote(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1]
    return text


def _first_word(text: str) -> tuple[str, str]:
    """The first whitespace-separated word and the rest, stripped."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _max_index(edition: Edition) -> int | None:
    return N**edition.param_count if edition.param_count < 64 else None


def _reachable(address: Address) -> Address:
    """A typed address names a volume whose digits past the first HEAD are zero (a short
    address, built without a call slip); past that, refuse it here rather than in a worker."""
    if address.index >= N**HEAD:
        raise CommandError(
            "That address is too far out to read from a message: typed addresses reach hexagon "
            "names of up to 62 characters (and some of 63). Volumes further out are read from "
            "call slip files (shelf read --slip FILE)."
        )
    return address


class Shelf:
    """Parses, checks and answers commands for one edition of the library.

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
        self._drawing = asyncio.Lock()  # pages are drawn one at a time (each builds a volume)

    # -- parsing and checking -------------------------------------------------------------

    def example(self, name: str) -> str:
        return f"{self.invocation}{SPECS[name].example}"

    def parse(self, text: str) -> Command:
        """A command from what follows `!shelf` (or a console line); raises CommandError."""
        word, rest = _first_word(text)
        if not word:
            return Command("help")
        name = word.lower()
        if name not in SPECS:
            raise CommandError(self._unknown(word))
        if name == "help" and rest:
            return self._help_topic(rest)
        if name in ("about", "help"):
            return Command(name)
        if name == "hunt":
            try:
                ask, prompt = self.hunts.parse(rest)
            except LibraryError as e:
                raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
            return Command(name, prompt=self._prompt(prompt), hunt=ask)
        if name in CATALOGUE_SPECS:
            try:
                return Command(name, ask=self.catalogue.parse(name, rest))
            except LibraryError as e:
                raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
        if name in ("random", "next", "prev"):
            return self.command(name, prompt=rest or None)
        address, rest = _first_word(rest)
        if name == "read":
            return self.command(name, address=address, prompt=rest or None)
        page, extra = _first_word(rest)
        if extra:
            raise CommandError(
                "page takes an address and a page number, nothing more: "
                f"e.g. {self.example('page')}"
            )
        return self.command(name, address=address, page=page)

    def command(
        self,
        name: str,
        address: str | None = None,
        prompt: str | None = None,
        page: str | int | None = None,
    ) -> Command:
        """A checked command from its parts (slash commands arrive this way)."""
        if name not in SPECS:
            raise CommandError(self._unknown(name))
        where, bookmark = None, ""
        if name in ("read", "page") and address and address.strip().startswith(SIGIL):
            bookmark = self._bookmark(address)
        elif name in ("read", "page"):
            where = self._address(name, address)
        number = self._page_number(where or bookmark, page) if name == "page" else None
        text = self._prompt(prompt) if name in ("read", "random", "next", "prev") else None
        return Command(name, where, text, number, bookmark)

    def hunt_command(
        self, count: int | None, prompt: str | None, score: str | None, top: int | None = None
    ) -> Command:
        """A checked hunt from its parts (the slash command)."""
        try:
            ask = self.hunts.ask(count, score, top)
        except LibraryError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
        return Command("hunt", prompt=self._prompt(prompt), hunt=ask)

    def _help_topic(self, text: str) -> Command:
        word, _ = _first_word(text)
        if word.lower() not in SPECS:
            raise CommandError(self._unknown(word))
        return Command("help", topic=word.lower())

    def _bookmark(self, text: str) -> str:
        try:
            return SIGIL + parse_name(text)
        except LibraryError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None

    def _unknown(self, word: str) -> str:
        shown = word if len(word) <= 30 else word[:29] + "…"
        close = difflib.get_close_matches(word.lower(), SPECS, n=1, cutoff=0.6)
        hint = f' Did you mean "{close[0]}"?' if close else ""
        return f'Unknown command "{shown}".{hint} Type {self.invocation}help to see every command.'

    def _address(self, name: str, text: str | None) -> Address:
        if not text or not text.strip():
            if name == "page":
                raise CommandError(
                    f"Which volume and which page? e.g. {self.example('page')} "
                    f"(a volume has {PAGES} pages)."
                )
            raise CommandError(f"Which volume? Give an address, e.g. {self.example('read')}")
        try:
            return _reachable(parse_address(text, _max_index(self.edition)))
        except AddressError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None

    def _page_number(self, address: Address, text: str | int | None) -> int:
        if text is None or str(text).strip() == "":
            raise CommandError(
                f"Which page of {address}? A volume has {PAGES} pages: "
                f"e.g. {self.invocation}page {address} 205"
            )
        text = str(text).strip()
        if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= PAGES:
            shown = text if len(text) <= 20 else text[:19] + "…"
            raise CommandError(f'There is no page "{shown}": a volume has pages 1 to {PAGES}.')
        return int(text)

    def _prompt(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = _unquote(text.strip()).strip()
        if not text:
            raise CommandError(
                "The prompt is empty: write a few words, or leave the prompt out to read with "
                f'the default one ("{DEFAULT_PROMPT}").'
            )
        limit = self.settings.max_prompt_chars
        if len(text) > limit:
            raise CommandError(
                f"The prompt is too long: {len(text):,} characters, at most {limit:,}."
            )
        from babel_core.vocab import load_vocabulary

        tokens = len(load_vocabulary(self.edition).encode(text))
        if tokens > MAX_PROMPT_TOKENS - 1:
            raise CommandError(
                f"The prompt is too long: {tokens:,} tokens, at most {MAX_PROMPT_TOKENS - 1:,}."
            )
        return text

    # -- answering ------------------------------------------------------------------------

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
            if command.name == "page":
                return await self._limited(
                    who, lambda: self._draw_page(command.address, command.page)
                )
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

    def neighbour(self, direction: str, address: str, prompt: str) -> Command:
        """A reading of the volume after ("next") or before ("prev") an address."""
        here = self._address("read", address)
        if direction == "prev" and here.index == 0:
            raise CommandError(f"{here} is the first volume of the library: none comes before it.")
        return Command("read", _reachable(here.neighbour(1 if direction == "next" else -1)), prompt)

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
        try:
            return await work()
        finally:
            await self.limits.release(who.user_id, token)

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
                    )
                    await on_progress(waiting)

        result = await self.client.request(
            job, who.user_id, report, timeout=self.settings.job_timeout_s + WAIT_MARGIN_S
        )
        if not result.ok:
            return r.error(result.error)
        await self.state.remember(who.user_id, job.address, job.prompt)
        return await self.reading_reply(result)

    async def _draw_page(self, address: Address, number: int) -> r.Reply:
        """Draw a page (babel_core/page.py) in a thread, one at a time; drawn pages are cached.

        The worker serves readings only, so pages are drawn here, where the command is
        answered; a t5-small page takes a volume build (0.4-1.2 s, 242 MB for the moment).
        """
        key = keys.page(self.edition.id, str(address), number)
        png = await self.redis.get(key)
        if png is None:
            async with self._drawing:
                png = await asyncio.to_thread(page_png, self.edition, address, number)
            await self.redis.set(key, png, ex=keys.PAGE_TTL_S)
        return self.page_reply(address, number, png)

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

    # -- replies --------------------------------------------------------------------------

    def progress_reply(self, progress: Waiting) -> r.Reply:
        if progress.total:
            return self.hunts.progress_reply(progress)
        if progress.position > 0:
            text = f"Reading… (position {progress.position} in the queue)"
        else:
            text = "Reading… (a worker has it)"
        if progress.workers == 0:
            text += " No worker is running right now: it will be read as soon as one starts."
        return r.Reply(
            r.PROGRESS,
            text,
            title=progress.address,
            buttons=(r.Button(r.CANCEL, "Cancel", job_id=progress.job_id, owner=progress.owner),),
        )

    async def reading_reply(self, result: jobs.Result) -> r.Reply:
        job = result.job
        key = await self.state.save_prompt(job.prompt)
        tokens = (
            f"{len(result.token_ids)} ({'stopped at eos' if result.stopped_at_eos else 'no eos'})"
        )
        cached = "yes" if result.cache == jobs.READING else "no"
        seconds = result.timings.get("total", 0.0)
        worker = f" · read by {result.worker} ({result.device})" if result.worker else ""
        return r.Reply(
            r.READING,
            result.text or "(nothing: this volume stops before its first word)",
            title=job.address,
            fields=(
                r.Field("Prompt", job.prompt, inline=False),
                r.Field("Fingerprint", result.fingerprint),
                r.Field("Tokens", tokens),
                r.Field("Time", f"{seconds:.2f} s"),
                r.Field("Cached", cached),
            ),
            footer=f"{self.edition.id}{worker}",
            buttons=(
                r.Button(r.PREV, "◀ Previous", address=job.address, prompt_key=key),
                r.Button(r.NEXT, "Next ▶", address=job.address, prompt_key=key),
                r.Button(r.AGAIN, "Read with another prompt", address=job.address),
                r.Button(r.SHARE, "Share", address=job.address, prompt_key=key),
            ),
            full_text_name=f"{job.address}.txt",
        )

    def page_reply(self, address: Address, number: int, png: bytes) -> r.Reply:
        first, last = page_span(self.edition, number)
        return r.Reply(
            r.READING,
            (
                f"Weights {first + 1:,} to {last:,} of {self.edition.param_count:,}, one pixel "
                "each, read left to right and top to bottom: blue below zero, white near zero, "
                "red above (-100 to 100)."
            ),
            title=f"{address}, page {number} of {PAGES}",
            footer=self.edition.id,
            files=(r.File(f"{address}-p{number}.png", png, f"page {number} of {address}"),),
        )

    def help(self, topic: str = "") -> r.Reply:
        if topic == "hunt":
            return self.hunts.help(SPECS["hunt"].usage)
        if topic:
            spec = SPECS[topic]
            return r.Reply(
                r.INFO,
                spec.summary,
                title=f"{self.invocation}{spec.usage}",
                fields=(r.Field("Example", f"{self.invocation}{spec.example}", inline=False),),
            )
        return r.Reply(
            r.INFO,
            (
                "The Model Library of Babel holds every model of its edition: each volume has an "
                f"address such as {EXAMPLE_ADDRESS}. Read one with a prompt and see what it says."
            ),
            title="Commands",
            fields=tuple(
                r.Field(
                    f"{self.invocation}{s.usage}",
                    f"{s.summary}\nExample: {self.invocation}{s.example}",
                    inline=False,
                )
                for s in SPECS.values()
            ),
            footer=f"Edition {self.edition.id}",
        )

    def about(self) -> r.Reply:
        facts = about_numbers(self.edition.param_count)
        per_page = math.ceil(self.edition.param_count / PAGES)
        return r.Reply(
            r.INFO,
            (
                f"Every {self.edition.name} model whose {self.edition.param_count:,} weights lie "
                "on the grid -100, -99.9999, …, 100 is a volume of this library, and every volume "
                "has exactly one address. Almost all are nonsense; somewhere on the shelves is "
                "everything."
            ),
            title=f"The Model Library of Babel ({self.edition.id})",
            fields=(
                r.Field("Volumes", facts["volumes"]),
                r.Field("Values per weight", f"{N:,}"),
                r.Field("Pages per volume", f"{PAGES} ({per_page:,} weights each)"),
                r.Field(
                    "Addresses",
                    "hexagon-wWALL-sSHELF-vVOLUME: 4 walls, 5 shelves, 35 volumes per shelf; "
                    "the hexagon is any name of letters and digits.",
                    inline=False,
                ),
                r.Field(
                    "The near wing",
                    f"Hexagon names up to {facts['near_wing_hexagon_chars']} characters: "
                    f"{facts['near_wing_volumes']:,} volumes. A typical volume's hexagon name "
                    f"has {facts['longest_hexagon_chars']:,} characters.",
                    inline=False,
                ),
            ),
            footer=self.edition.description,
        )
